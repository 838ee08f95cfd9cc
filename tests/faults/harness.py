"""Real worker and producer processes for the fault tests, and bounded waits on them.

A `Harness` belongs to one test: one store, one oracle log, and every process the test
started, each with its output in a file. Every wait has a deadline and fails with the tail
of every process's output; `close` kills whatever is still running, stopped ones included.
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import pytest

from conveyor.backends.base import JobFilter
from conveyor.job import JobRecord, JobState
from waiting import Predicate, wait_until

from .jobsapp import CRON_ENV, DB_URL_ENV, LOG_ENV, SCALE_ENV, Jobs
from .oracle import Execution, executions, read_events
from .skewed_clock import SKEW_ENV

TESTS_DIR = Path(__file__).resolve().parents[1]  # holds the `faults` package
APP_PATH = "faults.jobsapp:app"
SWEEP_INTERVAL = 2.0  # the worker's default lease-sweep period; the CLI has no option for it
_STARTED = re.compile(r"worker (\S+) started")


class Process:
    """A child process of the test, its output (stdout and stderr) kept in a file."""

    def __init__(
        self, role: str, argv: list[str], env: Mapping[str, str], output: Path, pipe: bool = False
    ) -> None:
        self.role = role
        self.output_path = output
        self._output = output.open("wb")
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            argv,
            cwd=TESTS_DIR,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe else self._output,
            stderr=self._output,
        )
        self.pid = self.popen.pid
        self.died_ns: int | None = None  # time.monotonic_ns() once seen dead

    def __repr__(self) -> str:
        return f"<{self.role} pid {self.pid}>"

    @property
    def alive(self) -> bool:
        if self.popen.poll() is None:
            return True
        if self.died_ns is None:
            self.died_ns = time.monotonic_ns()
        return False

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def send(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, and wait until the process is gone."""
        self.popen.kill()
        self.popen.wait(timeout=10)
        self.died_ns = time.monotonic_ns()

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def tail(self, lines: int = 25) -> str:
        text = self.output().splitlines()[-lines:]
        return "\n".join(f"    {line[:300]}" for line in text) or "    (no output)"

    def describe(self) -> str:
        code = self.returncode
        status = "running" if code is None else f"exited with {code}"
        return f"{self.role} pid {self.pid}, {status}; last output:\n{self.tail()}"

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()  # SIGKILL ends a SIGSTOPped process too
        try:
            self.popen.wait(timeout=10)
        finally:
            if self.popen.stdout is not None:
                self.popen.stdout.close()
            self._output.close()


class Worker(Process):
    """`conveyor worker faults.jobsapp:app ...`"""

    @property
    def name(self) -> str | None:
        """The name the worker writes into the jobs it claims, once it has started."""
        found = _STARTED.search(self.output())
        return found.group(1) if found else None


class Producer(Process):
    """`python -m faults.producer`: each line of its stdout is an acknowledged job id."""

    def __init__(self, role: str, argv: list[str], env: Mapping[str, str], output: Path) -> None:
        super().__init__(role, argv, env, output, pipe=True)
        self.acknowledged: list[str] = []
        assert self.popen.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.popen.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            if line.endswith(b"\n"):  # a line cut short by the kill was never acknowledged
                self.acknowledged.append(line.decode().strip())

    def drain(self) -> list[str]:
        """After the process ended: every id it printed."""
        self._reader.join(timeout=10)
        assert not self._reader.is_alive(), f"{self} still holds its stdout open"
        return list(self.acknowledged)


class Harness:
    """One test's store, oracle log and processes."""

    def __init__(self, directory: Path, url: str) -> None:
        self.directory = directory
        self.url = url
        self.log = directory / "oracle.log"
        self.jobs = Jobs(url)  # this process's side: enqueue and read the store
        self.processes: list[Process] = []

    # -- processes -------------------------------------------------------------------------

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_URL"}
        path = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH")) if p)
        env.update({"PYTHONPATH": path, DB_URL_ENV: self.url, LOG_ENV: str(self.log)})
        env.update(extra or {})
        return env

    def start_worker(
        self,
        *,
        concurrency: int = 10,
        lease: float = 2.0,
        heartbeat: float = 0.5,
        grace: float = 5.0,
        burst: bool = False,
        queues: str | None = None,
        nap_scale: float | None = None,
        url: str | None = None,
        cron: bool = False,
        clock_skew: float = 0.0,
    ) -> Worker:
        """A worker process on this harness's store (or on `url`: the same store, another way).

        With `cron`, its app schedules `faults.tick` every second. With `clock_skew`, its wall
        clock reads that many seconds off (see `skewed_clock`).
        """
        command = "faults.skewed_clock" if clock_skew else "conveyor"
        argv = [sys.executable, "-m", command, "worker", APP_PATH]
        argv += ["--concurrency", str(concurrency), "--lease", f"{lease:g}"]
        argv += ["--heartbeat", f"{heartbeat:g}", "--grace", f"{grace:g}"]
        if burst:
            argv.append("--burst")
        if queues is not None:
            argv += ["--queues", queues]
        extra = {} if nap_scale is None else {SCALE_ENV: f"{nap_scale:g}"}
        if url is not None:
            extra[DB_URL_ENV] = url
        if cron:
            extra[CRON_ENV] = "1"
        if clock_skew:
            extra[SKEW_ENV] = f"{clock_skew:g}"
        number = sum(isinstance(p, Worker) for p in self.processes) + 1
        worker = Worker(
            f"worker {number}", argv, self.env(extra), self.directory / f"worker-{number}.log"
        )
        self.processes.append(worker)
        return worker

    def start_producer(self, mode: str, count: int) -> Producer:
        number = sum(isinstance(p, Producer) for p in self.processes) + 1
        argv = [sys.executable, "-m", "faults.producer", mode, str(count)]
        producer = Producer(
            f"producer {number}", argv, self.env(), self.directory / f"producer-{number}.log"
        )
        self.processes.append(producer)
        return producer

    async def close(self) -> None:
        for process in self.processes:
            process.close()
        await self.jobs.app.close()

    # -- the oracle and the store ----------------------------------------------------------

    def runs(self) -> dict[str, list[Execution]]:
        return executions(read_events(self.log))

    def completions(self) -> int:
        return sum(run.completed for runs in self.runs().values() for run in runs)

    async def records(self) -> dict[str, JobRecord]:
        backend = await self.jobs.app.connected()
        return {r.id: r for r in await backend.list_jobs(JobFilter(limit=10**9))}

    async def record(self, job_id: str) -> JobRecord:
        record = await (await self.jobs.app.connected()).get(job_id)
        assert record is not None, f"job {job_id} is not in the store"
        return record

    async def count(self, *states: JobState) -> int:
        counts = await (await self.jobs.app.connected()).counts()
        return sum(n for per_queue in counts.values() for s, n in per_queue.items() if s in states)

    def sqlite_path(self) -> Path:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme != "sqlite":
            raise LookupError(f"{self.url} is not an SQLite store: use the sqlite_harness fixture")
        return Path(urllib.parse.unquote(parsed.path[1:]))

    # -- waiting ---------------------------------------------------------------------------

    async def wait_until(self, predicate: Predicate, timeout: float, what: str) -> None:
        """Poll `predicate` (sync or async) until true; fail after `timeout` seconds."""
        await wait_until(predicate, timeout, what, self.fail)

    async def wait_exit(self, process: Process, timeout: float) -> int:
        """Wait for `process` to end; its exit code (negative: the signal that killed it)."""
        await self.wait_until(lambda: not process.alive, timeout, f"{process} to exit")
        code = process.returncode
        assert code is not None
        return code

    async def started(self, *workers: Worker, timeout: float = 10.0) -> None:
        await self.wait_until(
            lambda: all(w.name is not None for w in workers), timeout, "the workers to start"
        )

    async def keep_a_worker_running(
        self, start: Callable[[], Worker], done: Predicate, *, timeout: float, max_starts: int
    ) -> list[Worker]:
        """Call `start` whenever no worker it made is alive, until `done`; the workers, in order."""
        started: list[Worker] = []
        current: Worker | None = None

        async def check() -> bool:
            nonlocal current
            outcome = done()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return True
            if current is None or not current.alive:
                if len(started) >= max_starts:
                    self.fail(f"{max_starts} workers died and the work is still not done")
                current = start()
                started.append(current)
            return False

        await self.wait_until(check, timeout, "the work to be done while restarting workers")
        return started

    def fail(self, message: str) -> None:
        details = "\n".join(p.describe() for p in self.processes) or "no processes were started"
        pytest.fail(f"{message}\n{details}", pytrace=False)

    def ran_by(self, pid: int) -> list[Execution]:
        return [run for runs in self.runs().values() for run in runs if run.pid == pid]


def exit_signal(code: int) -> str:
    """How a process ended, for messages: 'exit 0' or 'SIGKILL'."""
    return signal.Signals(-code).name if code < 0 else f"exit {code}"
