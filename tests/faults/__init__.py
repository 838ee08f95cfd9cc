"""The fault suite: real `conveyor worker` processes, real signals, an oracle outside the queue.

Each test starts workers (and producers) as subprocesses on a fresh store, injects a fault
of the reliability notes (SIGKILL, SIGSTOP/SIGCONT, SIGTERM, kill -9 mid-write,
bad rows), and judges the run with `oracle`: every job lost, duplicated or fine.

    .venv/bin/pytest tests/faults        # all of it, a few minutes
    .venv/bin/pytest -m "not faults"     # everything else

- `jobsapp`: the app the workers import (`faults.jobsapp:app`); its tasks log each run.
- `producer`: a process that enqueues and prints every acknowledged job id.
- `harness`: starting processes, bounded waits, reading the store and the oracle log.
- `oracle`: parsing the log into executions; lost / duplicated / overlapping.
- `relay`: a TCP relay whose connections a test cuts, to sever one worker from its store.
- `skewed_clock`: runs a worker whose wall clock is minutes off the machine's.
"""
