"""Benchmarks: conveyor on SQLite beside Huey's SQLite storage, from one command.

Run `python -m benchmarks` from the repository root (`--quick` for a smoke run, `--help` for
the sizes). Every figure comes from this run on this machine: read the ratios, not the
absolute numbers, on a shared and noisy host.
"""
