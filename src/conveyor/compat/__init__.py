"""Run code written for other job libraries on conveyor: `conveyor.compat.arq`."""
