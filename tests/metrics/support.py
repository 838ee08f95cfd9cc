"""Worker processes serving /metrics, scrapes parsed by prometheus-client, bounded waits.

A `Harness` belongs to one test: one store, one oracle file, and the worker processes it
started, each with its output in a file. Every wait has a deadline and fails with the tail
of every worker's output; `close` kills the workers still running.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from conveyor import Conveyor, JobState
from conveyor.backends.base import JobFilter
from conveyor.job import JobRecord
from waiting import Predicate, wait_until

from .tasks import DB_URL_ENV, HOLD_ENV, ORACLE_ENV, Tasks

TESTS_DIR = Path(__file__).resolve().parents[1]  # holds the `metrics` package
APP_PATH = "metrics.workerapp:app"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclasses.dataclass(frozen=True)
class Scrape:
    """One answer of /metrics: its text and its samples."""

    text: str
    samples: list[Sample]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        families = text_string_to_metric_families(text)
        return cls(text, [sample for family in families for sample in family.samples])

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called `name` that carry `labels` (0 when there are none)."""
        return sum(
            s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()
        )

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """The samples called `name` that carry `labels`, summed per value of `label`."""
        sums: dict[str, float] = collections.defaultdict(float)
        for s in self.samples:
            if s.name == name and labels.items() <= s.labels.items():
                sums[s.labels[label]] += s.value
        return {key: value for key, value in sums.items() if value}


class Worker:
    """`conveyor worker metrics.workerapp:app ...`, its output in a file."""

    def __init__(self, argv: list[str], env: Mapping[str, str], output: Path) -> None:
        self.held = HOLD_ENV in env  # once stopped, it waits for `release` to exit
        self.output_path = output
        self._output = output.open("wb")
        self.popen = subprocess.Popen(
            argv, cwd=TESTS_DIR, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=self._output, stderr=self._output,
        )  # fmt: skip

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def describe(self) -> str:
        code = self.popen.poll()
        tail = "\n".join(f"    {line[:300]}" for line in self.output().splitlines()[-25:])
        status = "running" if code is None else f"exited with {code}"
        return f"worker pid {self.popen.pid}, {status}; last output:\n{tail or '    (none)'}"

    def release(self) -> None:
        """Let a held worker that stopped exit."""
        assert self.held
        self.popen.send_signal(signal.SIGUSR1)

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        self._output.close()


class Harness:
    """One test's store (with the tasks registered on an app of this process), oracle file
    and worker processes."""

    def __init__(self, directory: Path, url: str) -> None:
        self.directory = directory
        self.url = url
        self.oracle = directory / "oracle.log"
        self.app = Conveyor(url)
        self.tasks = Tasks(self.app)
        self.workers: list[Worker] = []

    def start_worker(
        self,
        *options: str,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        held: bool = False,
    ) -> Worker:
        """A worker process; with `port`, serving /metrics there; `env` adds to its
        environment. A `held` worker, once stopped, waits for `Worker.release` to exit."""
        argv = [sys.executable, "-m", "conveyor", "worker", APP_PATH, *options]
        if port is not None:
            argv += ["--metrics-port", str(port)]
        environment = {k: v for k, v in os.environ.items() if k != MULTIPROCESS_ENV}
        path = os.pathsep.join(p for p in (str(TESTS_DIR), environment.get("PYTHONPATH")) if p)
        environment.update({"PYTHONPATH": path, DB_URL_ENV: self.url, ORACLE_ENV: str(self.oracle)})
        environment.update(env or {})
        if held:
            environment[HOLD_ENV] = "1"
        output = self.directory / f"worker-{len(self.workers) + 1}.log"
        worker = Worker(argv, environment, output)
        self.workers.append(worker)
        return worker

    async def scrape(self, port: int) -> Scrape:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200, response.text
        return Scrape.parse(response.text)

    async def serving(self, port: int, worker: Worker) -> None:
        """Wait until `worker` has started working and accepts connections on `port`
        (without scraping: the first scrape is the test's, and reads the queues fresh)."""

        def ready() -> bool:
            if not worker.alive:
                self.fail("the worker exited before serving metrics")
            if "started: queues" not in worker.output():
                return False
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        await self.wait_until(ready, 15, f"metrics on port {port}")

    def started(self) -> dict[str, int]:
        """Attempts started per task, as the tasks wrote them to the oracle file."""
        if not self.oracle.exists():
            return {}
        lines = self.oracle.read_text().splitlines()
        return dict(collections.Counter(line.split()[0] for line in lines))

    async def records(self) -> dict[str, JobRecord]:
        backend = await self.app.connected()
        return {r.id: r for r in await backend.list_jobs(JobFilter(limit=10_000))}

    async def state(self, job_id: str) -> JobState | None:
        record = await (await self.app.connected()).get(job_id)
        return None if record is None else record.state

    async def wait_for_state(self, job_id: str, state: JobState, timeout: float = 10) -> None:
        async def reached() -> bool:
            return await self.state(job_id) is state

        await self.wait_until(reached, timeout, f"job {job_id} to be {state.value}")

    async def wait_until(self, predicate: Predicate, timeout: float, what: str) -> None:
        """Poll `predicate` (sync or async) until true; fail after `timeout` seconds."""
        await wait_until(predicate, timeout, what, self.fail)

    async def stop(self, worker: Worker, timeout: float = 15) -> int:
        """SIGTERM `worker` (releasing it, if held) and wait for its exit code."""
        if worker.alive:
            worker.popen.send_signal(signal.SIGTERM)
        if worker.held:
            worker.release()
        await self.wait_until(lambda: not worker.alive, timeout, "the worker to exit")
        code = worker.popen.poll()
        assert code is not None
        return code

    def fail(self, message: str) -> None:
        details = "\n".join(w.describe() for w in self.workers) or "no workers were started"
        pytest.fail(f"{message}\n{details}", pytrace=False)

    async def close(self) -> None:
        for worker in self.workers:
            worker.close()
        await self.app.close()
