"""Several workers on one machine, one coherent set of metrics: prometheus-client's
multiprocess mode, with one of the workers serving what all of them wrote."""

from __future__ import annotations

from pathlib import Path

from conveyor import JobState

from .support import MULTIPROCESS_ENV, Harness, free_port

NAPS = 12


async def test_one_worker_serves_the_sum_of_two(harness: Harness, tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {MULTIPROCESS_ENV: str(directory)}
    tasks, port = harness.tasks, free_port()
    serving = harness.start_worker("--concurrency", "2", port=port, env=env)
    # only this one works on "slow": what it does is seen through the other's port
    other = harness.start_worker("--concurrency", "2", "--queues", "default,slow", env=env)
    await harness.serving(port, serving)
    await harness.wait_until(lambda: "started: queues" in other.output(), 15, "the other worker")

    naps = [await tasks.nap.enqueue(0.2) for _ in range(NAPS)]
    spawn = await tasks.spawn.options(queue="slow").enqueue()
    sleeper = await tasks.nap.options(queue="slow").enqueue(60)
    for job in [*naps, spawn]:
        await harness.wait_for_state(job.id, JobState.SUCCEEDED)
    for child in (f"{spawn.id}.1", f"{spawn.id}.2"):
        await harness.wait_for_state(child, JobState.SUCCEEDED)
    await harness.wait_for_state(sleeper.id, JobState.ACTIVE)
    both = await harness.scrape(port)
    other.popen.kill()  # it dies holding the sleeper: its running job stops counting
    other.popen.wait(timeout=10)
    after = await harness.scrape(port)

    records = await harness.records()
    assert len({records[job.id].worker for job in naps}) == 2  # both workers ran naps
    started = harness.started()
    assert started["metrics.nap"] == NAPS + 1
    for scraped in (both, after):
        assert scraped.by("conveyor_jobs_started_total", "task") == started
        assert scraped.value("conveyor_jobs_finished_total", task="metrics.nap") == NAPS
        assert scraped.value("conveyor_job_duration_seconds_count", task="metrics.nap") == NAPS
        assert scraped.by("conveyor_jobs_enqueued_total", "task") == {"metrics.child": 2}
        assert scraped.value("conveyor_jobs_running", queue="default") == 0
    assert both.value("conveyor_jobs_running", queue="slow") == 1
    assert after.value("conveyor_jobs_running", queue="slow") == 0
    assert both.value("conveyor_queue_jobs", queue="slow", state="active") == 1
