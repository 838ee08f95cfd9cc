"""Benchmarks: conveyor beside its peers, each comparison from one command.

Run from the repository root: `python -m benchmarks` (SQLite: conveyor and Huey's SQLite
storage), `python -m benchmarks redis` (one private Redis: arq, saq, dramatiq, taskiq,
streaq, rq and celery) or `python -m benchmarks postgres` (one private PostgreSQL:
procrastinate and pgqueuer); `--quick` for a smoke run, `--help` for the sizes. Every figure comes
from this run on this machine: read the ratios, not the absolute numbers, on a shared host.
"""
