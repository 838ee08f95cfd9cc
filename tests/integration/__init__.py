"""Integration tests: jobs travel through a real backend and a real worker (or the CLI)."""
