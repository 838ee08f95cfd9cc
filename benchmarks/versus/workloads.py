"""The workloads on one server, run the same way for every system, each cell on fresh state.

Producers and workers run in the system's own virtualenv as `python -m benchmarks.peers NAME
...` (see `benchmarks.peers.harness`); the completion log, the worker's resources and the
server's counters are read from here. A server is anything that answers `Server`: Redis
(FLUSHALL before each cell) or PostgreSQL (a new database per cell, copied from the one the
system installed its schema into).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

from benchmarks.completions import CompletionLog, Tally, first_latencies_ms
from benchmarks.measure import WARMUP, Drain, Latency, Rate
from benchmarks.processes import ROOT, WorkerProcess
from benchmarks.versus.costs import Cost, Snapshot

SETTLE = 1.0  # seconds an idle worker waits before the latency jobs; also the idle window
BOOT_CAP = 60.0  # seconds a worker may take to run its first job
WORKLOADS = ("enqueue", "bulk", "drain", "latency", "one-call")  # in the order a round runs them


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    single: int = 3000
    bulk: int = 20000
    drain: int = 20000
    latency: int = 200
    latency_interval: float = 0.005
    concurrency: int = 100
    cap: float = 90.0  # seconds per cell at most
    workloads: tuple[str, ...] = WORKLOADS  # which of them each round runs


QUICK = Sizes(single=300, bulk=2000, drain=2000, latency=40, cap=20.0)


class Server(Protocol):
    """The one server every system of a run shares."""

    @property
    def url(self) -> str: ...

    def reset(self, system: str) -> None:
        """Fresh state for `system`'s next cell: empty, but for its installed schema."""

    def installed(self, system: str) -> None:
        """`system` has just installed what it needs: keep that state for its cells."""

    def settle(self) -> None:
        """Wait until what the clients did, now finished, shows in the server's counters."""

    def snapshot(self) -> Snapshot: ...


class PeerFailed(Exception):
    """A command of the peer failed; the message is short enough for a table cell."""


@dataclasses.dataclass(frozen=True, slots=True)
class Enqueued:
    rate: Rate
    cost: Cost


@dataclasses.dataclass(frozen=True, slots=True)
class Drained:
    drain: Drain
    cost: Cost
    worker_cpu_us_per_job: float


@dataclasses.dataclass(frozen=True, slots=True)
class Idle:
    latency: Latency
    server_calls_per_second: float  # what an idle worker asks of the server


class System:
    """One system under test: its interpreter, the shared server, a scratch folder."""

    def __init__(self, name: str, python: str, server: Server, folder: Path) -> None:
        self.name, self.python, self.server = name, python, server
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self._cells = 0

    def call(self, command: str, *args: str, timeout: float) -> dict[str, Any]:
        """Run one harness command; its last stdout line is a JSON object."""
        argv = [self.python, "-m", "benchmarks.peers", self.name, command, "--url", self.server.url]
        try:
            done = subprocess.run(
                [*argv, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise PeerFailed(f"`{command}` did not finish within {timeout:.0f} s") from None
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise PeerFailed(f"`{command}` exited with {done.returncode}: {_tail(done.stderr)}")
        outcome: dict[str, Any] = json.loads(lines[-1])
        return outcome

    def describe(self, sizes: Sizes) -> dict[str, Any]:
        return self.call("describe", "--concurrency", str(sizes.concurrency), timeout=120)

    def enqueue(self, sizes: Sizes, bulk: bool) -> Enqueued:
        n = sizes.bulk if bulk else sizes.single
        self.server.reset(self.name)
        before = self.server.snapshot()
        args = ["--n", str(n), "--cap", str(sizes.cap), *(["--bulk"] if bulk else [])]
        rate = Rate(**self.call("enqueue", *args, timeout=sizes.cap + 60))
        self.server.settle()
        after = self.server.snapshot()
        return Enqueued(rate, after.since(before, rate.done + WARMUP))  # warm-up jobs cost too

    def drain(self, sizes: Sizes, one_call: bool = False) -> Drained:
        """N no-op jobs already queued; one worker process started; until all N have run.

        With `one_call`, each job first makes one round trip of its own to the server (the
        one-call workload), and records itself only once that call has returned. The server's
        counters are read once the worker has stopped: its whole life is charged.
        """
        n = sizes.drain
        self.server.reset(self.name)
        args = ["--n", str(n), *(["--one-call"] if one_call else [])]
        self.call("prefill", *args, timeout=sizes.cap * 4 + 60)
        log = self.completion_log()
        before = self.server.snapshot()
        worker = self.start_worker(log, sizes)
        seen = log.wait_for(n, worker.started + sizes.cap, worker.alive, poll=0.005)
        finished, finished_wall = time.monotonic(), time.time()
        cpu = worker.cpu_seconds() if worker.alive() else 0.0
        usage = worker.stop()
        self.server.settle()
        after = self.server.snapshot()
        tally = Tally.of(log.read(), n)
        problems = []
        if usage.exit_code != 0:
            problems.append(f"worker exited with {usage.exit_code}: {_tail(worker.stderr_tail())}")
        if tally.duplicates:
            problems.append(f"{tally.duplicates} duplicate runs")
        after_first = None
        if tally.first_started is not None:
            after_first = Rate(
                max(0, tally.distinct - 1), n - 1, finished_wall - tally.first_started
            )
        drain = Drain(
            from_start=Rate(min(tally.distinct, seen), n, finished - worker.started),
            after_first=after_first,
            peak_rss_bytes=usage.peak_rss_bytes,
            cpu_seconds=usage.cpu_seconds,
            problem="; ".join(problems) or None,
        )
        cost = after.since(before, max(tally.distinct, 1))
        return Drained(drain, cost, (cpu or usage.cpu_seconds) * 1e6 / max(tally.distinct, 1))

    def latency(self, sizes: Sizes) -> Idle:
        """An idle worker; jobs sent one at a time, a few ms apart; enqueue-to-start times.

        Afterwards the worker idles for SETTLE seconds more: its CPU and server calls then.
        """
        n = sizes.latency
        self.server.reset(self.name)
        log = self.completion_log()
        worker = self.start_worker(log, sizes)
        try:
            self.call(
                "latency", "--n", str(n), "--log", str(log.path),
                "--interval", str(sizes.latency_interval), "--settle", str(SETTLE),
                "--boot-cap", str(BOOT_CAP),
                timeout=BOOT_CAP + SETTLE + n * sizes.latency_interval + sizes.cap,
            )  # fmt: skip
            log.wait_for(n + 1, time.monotonic() + sizes.cap, worker.alive)
            idle_cpu, idle_calls = self._idle(worker)
        finally:
            usage = worker.stop()
        problem = None
        if usage.exit_code != 0:
            problem = f"worker exited with {usage.exit_code}: {_tail(worker.stderr_tail())}"
        return Idle(Latency(first_latencies_ms(log.read()), n, idle_cpu, problem), idle_calls)

    def _idle(self, worker: WorkerProcess) -> tuple[float, float]:
        """The worker's CPU (fraction of a core) and server calls/s over SETTLE idle seconds."""
        time.sleep(0.2)  # let the last acknowledgements land first
        if not worker.alive():
            return 0.0, 0.0
        cpu, before = worker.cpu_seconds(), self.server.snapshot()
        time.sleep(SETTLE)
        calls = sum(self.server.snapshot().since(before, 1).calls.values())
        return (worker.cpu_seconds() - cpu) / SETTLE if worker.alive() else 0.0, calls / SETTLE

    def completion_log(self) -> CompletionLog:
        self._cells += 1
        return CompletionLog(self.folder / f"done-{self._cells}.log")

    def start_worker(self, log: CompletionLog, sizes: Sizes) -> WorkerProcess:
        args = [self.name, "work", "--url", self.server.url, "--log", str(log.path)]
        return WorkerProcess(
            "benchmarks.peers",
            [*args, "--concurrency", str(sizes.concurrency)],
            self.folder / f"worker-{self._cells}.stderr",
            signal.SIGTERM,
            python=self.python,
        )


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept)[-400:] or "(nothing on stderr)"
