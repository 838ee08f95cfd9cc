"""`conveyor worker --metrics-port`: every counter, scraped over HTTP, equals what ran.

One worker runs jobs of every outcome, one phase at a time: succeeded, failed and retried
jobs and a job that enqueues others; a job cancelled while it runs; a job that holds the
event loop past its lease while the test recovers the lease (lease_lost, then a second
attempt); a job running when SIGTERM arrives with no grace (handed_back). The oracle is the
file the tasks write (attempts started) and the store (how each job ended).
"""

from __future__ import annotations

from conveyor import JobState

from .support import Harness, Scrape, free_port

FINISHED = "conveyor_jobs_finished_total"


async def test_every_counter_equals_what_the_worker_did(shared_harness: Harness) -> None:
    harness, tasks, port = shared_harness, shared_harness.tasks, free_port()
    options = ["--concurrency", "4", "--lease", "1", "--heartbeat", "0.25", "--grace", "0"]
    worker = harness.start_worker(*options, port=port, held=True)
    await harness.serving(port, worker)

    # succeeded, failed, retried, and two jobs enqueued by the worker (a third is a repeat)
    ordinary = [await tasks.ok.enqueue() for _ in range(3)]
    flop, flaky = await tasks.flop.enqueue(), await tasks.flaky.enqueue()
    spawn = await tasks.spawn.enqueue()
    children = [f"{spawn.id}.1", f"{spawn.id}.2"]
    for job in [*ordinary, flaky, spawn]:
        await harness.wait_for_state(job.id, JobState.SUCCEEDED)
    await harness.wait_for_state(flop.id, JobState.FAILED)
    for child in children:
        await harness.wait_for_state(child, JobState.SUCCEEDED)

    # cancelled while it runs
    waiter = await tasks.nap.enqueue(30)
    await harness.wait_for_state(waiter.id, JobState.ACTIVE)
    await waiter.cancel()
    await harness.wait_for_state(waiter.id, JobState.CANCELLED)

    # lease_lost: its lease lapses while it holds the loop, and the test recovers the job
    hog = await tasks.hog.enqueue(3.0)
    await harness.wait_for_state(hog.id, JobState.ACTIVE)
    backend = await harness.app.connected()

    async def recovered() -> bool:
        return (await backend.recover_expired()).requeued == 1

    await harness.wait_until(recovered, 2.5, "the hog's lease to lapse and be recovered")
    await harness.wait_for_state(hog.id, JobState.SUCCEEDED)  # its second attempt

    # handed_back: running when SIGTERM comes, with no grace
    sleeper = await tasks.nap.enqueue(60)
    await harness.wait_for_state(sleeper.id, JobState.ACTIVE)
    await harness.wait_until(lambda: harness.started().get("metrics.nap") == 2, 5, "the nap")
    running = await harness.scrape(port)
    worker.popen.terminate()
    scraped: list[Scrape] = []

    async def handed_back() -> bool:
        scraped.append(await harness.scrape(port))
        return scraped[-1].value(FINISHED, outcome="handed_back") == 1

    await harness.wait_until(handed_back, 10, "the handed-back job to be counted")
    final = scraped[-1]
    assert await harness.stop(worker) == 0

    # the store agrees with the story told above
    records = await harness.records()
    assert records[sleeper.id].state is JobState.QUEUED
    assert records[flaky.id].attempts == records[hog.id].attempts == 2
    assert sorted(r.id for r in records.values() if r.task == "metrics.child") == children

    started = harness.started()
    assert started == {
        "metrics.ok": 3, "metrics.flop": 1, "metrics.flaky": 2, "metrics.spawn": 1,
        "metrics.child": 2, "metrics.nap": 2, "metrics.hog": 2,
    }  # fmt: skip
    assert final.by("conveyor_jobs_started_total", "task") == started
    for histogram in ("conveyor_job_duration_seconds", "conveyor_job_queue_wait_seconds"):
        assert final.by(f"{histogram}_count", "task") == started, histogram
    assert final.by("conveyor_jobs_enqueued_total", "task") == {"metrics.child": 2}
    assert final.by(FINISHED, "outcome", task="metrics.ok") == {"succeeded": 3}
    assert final.by(FINISHED, "outcome", task="metrics.flop") == {"failed": 1}
    assert final.by(FINISHED, "outcome", task="metrics.flaky") == {"retried": 1, "succeeded": 1}
    assert final.by(FINISHED, "outcome", task="metrics.spawn") == {"succeeded": 1}
    assert final.by(FINISHED, "outcome", task="metrics.child") == {"succeeded": 2}
    assert final.by(FINISHED, "outcome", task="metrics.hog") == {"lease_lost": 1, "succeeded": 1}
    assert final.by(FINISHED, "outcome", task="metrics.nap") == {
        "cancelled": 1, "handed_back": 1,
    }  # fmt: skip
    assert running.value("conveyor_jobs_running", queue="default") == 1
    assert final.value("conveyor_jobs_running", queue="default") == 0

    # labels name tasks, queues, outcomes and states: never a job
    for job_id in records:
        assert job_id not in final.text
    ours = [sample for sample in final.samples if sample.name.startswith("conveyor_")]
    labels = {name for sample in ours for name in sample.labels}
    assert labels <= {"task", "queue", "outcome", "state", "le"}
