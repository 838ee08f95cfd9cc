"""`conveyor worker --processes N`: a supervisor and its worker processes, with real signals.

The supervisor names each worker process it starts ("worker process 1 started (pid ...)");
the tasks write the pid that ran them to the oracle log, so a test sees which child ran
what, and that every job ran to the end exactly once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from conveyor.job import JobState

from .harness import APP_PATH, Harness, Worker
from .oracle import classify

_CHILD = re.compile(r"worker process (\d+) started \(pid (\d+)\)")


class Supervisor(Worker):
    """`conveyor worker faults.jobsapp:app --processes N ...`"""

    def children(self) -> list[int]:
        """The pids of every worker process it started so far, in order."""
        return [int(pid) for _, pid in _CHILD.findall(self.output())]

    def close(self) -> None:
        super().close()
        for pid in self.children():  # a test that failed midway leaves none behind
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()


def start_supervisor(
    harness: Harness, *options: str, processes: int = 2, concurrency: int = 2
) -> Supervisor:
    argv = [sys.executable, "-m", "conveyor", "worker", APP_PATH, "--processes", str(processes)]
    argv += ["--concurrency", str(concurrency), "--lease", "2", "--heartbeat", "0.5"]
    argv += ["--grace", "10", *options]
    supervisor = Supervisor("supervisor", argv, harness.env(), harness.directory / "supervisor.log")
    harness.processes.append(supervisor)
    return supervisor


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def children_started(harness: Harness, supervisor: Supervisor, count: int) -> list[int]:
    def enough() -> bool:
        return (
            len(supervisor.children()) >= count and supervisor.output().count(" started: ") >= count
        )

    await harness.wait_until(enough, 30, f"{count} worker processes to start")
    return supervisor.children()


async def stop(harness: Harness, supervisor: Supervisor, sig: signal.Signals) -> None:
    """Send `sig`; the supervisor exits 0 and leaves no worker process behind."""
    supervisor.send(sig)
    code = await harness.wait_exit(supervisor, 30)
    assert code == 0, supervisor.describe()
    left = [pid for pid in supervisor.children() if not gone(pid)]
    assert left == [], f"worker processes left running: {left}"


async def test_two_processes_share_the_jobs_and_lose_none(harness: Harness) -> None:
    jobs = harness.jobs
    supervisor = start_supervisor(harness)
    children = await children_started(harness, supervisor, 2)
    handles = await jobs.app.enqueue_many([jobs.nap.s(0.1) for _ in range(40)])

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(handles)

    await harness.wait_until(all_done, 60, "every job to succeed")
    verdict = classify([h.id for h in handles], await harness.records(), harness.runs())
    assert verdict.nothing_lost, verdict.summary()
    assert not verdict.duplicated, verdict.summary()
    ran_by = {run.pid for runs in harness.runs().values() for run in runs}
    assert ran_by == set(children), "both worker processes ran jobs, and only they did"
    await stop(harness, supervisor, signal.SIGTERM)


async def test_a_killed_child_is_restarted_and_its_jobs_recovered(sqlite_harness: Harness) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    supervisor = start_supervisor(harness)
    first, second = await children_started(harness, supervisor, 2)
    handles = await jobs.app.enqueue_many([jobs.nap.s(1.0) for _ in range(8)])
    await harness.wait_until(lambda: bool(harness.ran_by(first)), 30, f"pid {first} to start a job")
    os.kill(first, signal.SIGKILL)

    await harness.wait_until(
        lambda: len(supervisor.children()) == 3, 30, "the killed worker process to be replaced"
    )
    assert f"(pid {first}) was killed by SIGKILL" in supervisor.output()

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(handles)

    await harness.wait_until(all_done, 60, "every job to succeed")
    verdict = classify([h.id for h in handles], await harness.records(), harness.runs())
    assert verdict.nothing_lost, verdict.summary()
    cut_short = [run.job_id for run in harness.ran_by(first) if not run.completed]
    assert cut_short, "the killed process held jobs"
    replacement = supervisor.children()[2]
    for job_id in cut_short:  # finished later by a live worker process
        assert any(
            run.completed and run.pid in (second, replacement) for run in harness.runs()[job_id]
        )
    await stop(harness, supervisor, signal.SIGTERM)


async def test_max_jobs_per_child_recycles_without_losing_or_repeating_a_job(
    sqlite_harness: Harness,
) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    handles = await jobs.app.enqueue_many([jobs.nap.s(0.05) for _ in range(30)])
    supervisor = start_supervisor(harness, "--max-jobs-per-child", "4")

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(handles)

    await harness.wait_until(all_done, 90, "every job to succeed")
    runs = harness.runs()
    verdict = classify([h.id for h in handles], await harness.records(), runs)
    assert verdict.nothing_lost, verdict.summary()
    assert not verdict.duplicated, verdict.summary()
    assert all(len(job_runs) == 1 for job_runs in runs.values()), "no job started twice"
    per_pid: dict[int, int] = {}
    for job_runs in runs.values():
        per_pid[job_runs[0].pid] = per_pid.get(job_runs[0].pid, 0) + 1
    assert max(per_pid.values()) <= 4, per_pid
    assert len(per_pid) >= 30 // 4 + 1, "fresh worker processes took over"
    assert "retired at its limit" in supervisor.output()
    await stop(harness, supervisor, signal.SIGTERM)


async def test_sigterm_lets_running_jobs_finish_then_leaves_no_process(
    sqlite_harness: Harness,
) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    supervisor = start_supervisor(harness)
    children = await children_started(harness, supervisor, 2)
    handles = await jobs.app.enqueue_many([jobs.nap.s(1.5) for _ in range(4)])
    await harness.wait_until(
        lambda: all(harness.ran_by(pid) for pid in children), 30, "both processes to start jobs"
    )
    await stop(harness, supervisor, signal.SIGTERM)
    states = {(await harness.record(h.id)).state for h in handles}
    assert states == {JobState.SUCCEEDED}, "the running jobs finished within the grace period"


async def test_ctrl_c_twice_hands_the_jobs_back_and_leaves_no_process(
    sqlite_harness: Harness,
) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    supervisor = start_supervisor(harness)
    children = await children_started(harness, supervisor, 2)
    # a terminal's Ctrl-C goes to its foreground process group: not to the children's
    assert all(os.getpgid(pid) != os.getpgid(supervisor.pid) for pid in children)
    handles = await jobs.app.enqueue_many([jobs.nap.s(30) for _ in range(4)])
    await harness.wait_until(
        lambda: all(harness.ran_by(pid) for pid in children), 30, "both processes to start jobs"
    )
    supervisor.send(signal.SIGINT)
    await harness.wait_until(
        lambda: supervisor.output().count("SIGINT: no more claims") == 2, 30, "the children to stop"
    )
    await stop(harness, supervisor, signal.SIGINT)
    assert "KeyboardInterrupt" not in supervisor.output()
    states = {(await harness.record(h.id)).state for h in handles}
    assert states == {JobState.QUEUED}, "the running jobs were handed back at the second ^C"


async def test_the_supervisor_serves_the_sum_of_its_processes_metrics(
    sqlite_harness: Harness,
) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    port = free_port()
    handles = await jobs.app.enqueue_many([jobs.nap.s(0.2) for _ in range(12)])
    options = ("--metrics-port", str(port), "--max-jobs-per-child", "5")
    supervisor = start_supervisor(harness, *options)

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(handles)

    await harness.wait_until(all_done, 60, "every job to succeed")
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200, response.text
    finished = [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "conveyor_jobs_finished_total" and sample.labels["task"] == "faults.nap"
    ]
    ran_by = {run.pid for runs in harness.runs().values() for run in runs}
    assert len(ran_by) >= 3, "two processes ran jobs, and at least one that replaced them"
    # every process's counters, retired ones' too, summed
    assert sum(sample.value for sample in finished) == len(handles)
    await stop(harness, supervisor, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_a_child_that_keeps_dying_is_restarted_ever_later(sqlite_harness: Harness) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    supervisor = start_supervisor(harness, processes=1)
    await children_started(harness, supervisor, 1)
    poison = await jobs.poison.enqueue()  # kills the worker process that runs it, every time

    await harness.wait_until(
        lambda: len(_RESTART.findall(supervisor.output())) >= 3, 60, "three restarts"
    )
    delays = [float(delay) for delay in _RESTART.findall(supervisor.output())]
    assert delays[:3] == [0.5, 1.0, 2.0], "each death soon after a start doubles the wait"
    await harness.wait_until(
        lambda: _is_dead_lettered(harness, poison.id), 60, "the poison job to be failed"
    )

    def working() -> bool:  # the newest worker process started, and stays up
        pids = supervisor.children()
        return not gone(pids[-1]) and supervisor.output().count(" started: ") >= len(pids)

    await harness.wait_until(working, 60, "a worker process that stays up")
    await stop(harness, supervisor, signal.SIGTERM)


_RESTART = re.compile(r"was killed by SIGKILL after [\d.]+ s; restarting it in ([\d.]+) s")


async def _is_dead_lettered(harness: Harness, job_id: str) -> bool:
    record = await harness.record(job_id)
    return record.state is JobState.FAILED and record.error is not None


async def test_max_memory_per_child_recycles_a_process_that_grew(sqlite_harness: Harness) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    supervisor = start_supervisor(harness, "--max-memory-per-child", "150", processes=1)
    [first] = await children_started(harness, supervisor, 1)
    leak = await jobs.hoard.enqueue(200)
    await harness.wait_until(lambda: len(supervisor.children()) == 2, 60, "a fresh process")
    naps = await jobs.app.enqueue_many([jobs.nap.s(0.05) for _ in range(10)])

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(naps) + 1

    await harness.wait_until(all_done, 60, "every job to succeed")
    assert "over its limit of 150 MB" in supervisor.output()
    assert [run.pid for run in harness.runs()[leak.id]] == [first], "the leak ran once"
    fresh = supervisor.children()[1]
    assert {run.pid for h in naps for run in harness.runs()[h.id]} == {fresh}
    await stop(harness, supervisor, signal.SIGTERM)


async def test_a_memory_limit_below_a_fresh_process_backs_off(sqlite_harness: Harness) -> None:
    harness = sqlite_harness
    supervisor = start_supervisor(harness, "--max-memory-per-child", "1", processes=1)
    exits = re.compile(r"exited with code 3 after [\d.]+ s; restarting it in ([\d.]+) s")
    await harness.wait_until(
        lambda: len(exits.findall(supervisor.output())) >= 3, 60, "three exits"
    )
    assert [float(d) for d in exits.findall(supervisor.output())[:3]] == [0.5, 1.0, 2.0]
    assert "before ending any job, over its limit of 1 MB" in supervisor.output()
    await stop(harness, supervisor, signal.SIGTERM)


async def test_children_of_a_killed_supervisor_stop_by_themselves(sqlite_harness: Harness) -> None:
    harness, jobs = sqlite_harness, sqlite_harness.jobs
    supervisor = start_supervisor(harness)
    children = await children_started(harness, supervisor, 2)
    handles = await jobs.app.enqueue_many([jobs.nap.s(1.0) for _ in range(4)])
    await harness.wait_until(
        lambda: all(harness.ran_by(pid) for pid in children), 30, "both processes to start jobs"
    )
    supervisor.kill()

    await harness.wait_until(
        lambda: all(gone(pid) for pid in children), 30, "the orphaned worker processes to stop"
    )
    states = {(await harness.record(h.id)).state for h in handles}
    assert states == {JobState.SUCCEEDED}, "they finished their jobs first, as on SIGTERM"
