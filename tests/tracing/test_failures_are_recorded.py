"""A failing attempt's span records the exception and ends in error, with the outcome the
job got: `retried` while attempts remain, then `failed`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from conveyor import Conveyor, JobError, Worker
from conveyor.job import JobRecord
from conveyor.middleware.tracing import TracingMiddleware

from .support import consumers, finished, in_memory, work_off


class PaymentDeclined(Exception):
    pass


async def charge(amount: int) -> None:
    raise PaymentDeclined(f"card declined for {amount}")


def charge_in_a_thread(amount: int) -> None:
    raise PaymentDeclined(f"card declined for {amount}")


async def test_each_failed_attempt_records_its_exception_and_its_outcome() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    task = app.task(retries=1, backoff="constant", backoff_base=0)(charge)

    await task.enqueue(5)
    await work_off(app)

    first, second = consumers(finished(exporter))
    assert first.attributes["messaging.conveyor.job.attempt"] == 1
    assert second.attributes["messaging.conveyor.job.attempt"] == 2
    assert first.attributes["messaging.conveyor.job.outcome"] == "retried"
    assert second.attributes["messaging.conveyor.job.outcome"] == "failed"
    for span in (first, second):
        assert span.status == "ERROR"
        assert span.attributes["error.type"] == f"{__name__}.PaymentDeclined"
        [event] = span.events
        assert event["name"] == "exception"
        assert event["attributes"]["exception.type"] == f"{__name__}.PaymentDeclined"
        assert event["attributes"]["exception.message"] == "card declined for 5"
        assert "in charge" in event["attributes"]["exception.stacktrace"]
    # both attempts continue the trace of the one enqueue
    assert first.parent_id == second.parent_id is not None


async def test_a_sync_tasks_exception_is_recorded_too() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    task = app.task(retries=0)(charge_in_a_thread)

    await task.enqueue(7)
    await work_off(app)

    [span] = consumers(finished(exporter))
    assert span.attributes["messaging.conveyor.job.outcome"] == "failed"
    assert span.events[0]["attributes"]["exception.message"] == "card declined for 7"


async def test_a_job_that_never_ran_has_no_process_span(tmp_path: Path) -> None:
    provider, exporter = in_memory()
    url = f"sqlite:///{tmp_path}/jobs.db"
    producer, consumer = Conveyor(url), Conveyor(url, middleware=[TracingMiddleware(provider)])
    try:
        await producer.task(name="only.the.producer.has.it")(charge).enqueue(1)
        worker = Worker(consumer, queues=["default"], burst=True)
        await worker.run()
    finally:
        await producer.close()
        await consumer.close()

    assert worker.processed == 1  # failed as an unknown task, and job_ended was told
    assert finished(exporter) == []


async def test_an_outcome_told_while_the_attempt_runs_ends_its_span_when_it_returns() -> None:
    # a sync task whose lease is lost is told `lease_lost` while its thread runs on
    provider, exporter = in_memory()
    tracing = TracingMiddleware(provider)
    job = JobRecord(id="j-1", task="slow", queue="default", payload=b"{}", attempts=1)
    returning_at = 0

    async def run() -> None:
        nonlocal returning_at
        tracing.job_ended(job, "lease_lost", None)
        await asyncio.sleep(0.01)
        assert exporter.get_finished_spans() == ()  # still running: the span stays open
        returning_at = time.time_ns()

    await tracing.execute(job, run)
    tracing.job_ended(job, "lease_lost", None)  # a second word about it changes nothing

    [span] = finished(exporter)
    assert span.attributes["messaging.conveyor.job.outcome"] == "lease_lost"
    assert span.attributes["error.type"] == "lease_lost"
    assert span.status == "ERROR"
    assert span.end >= returning_at  # it ended when the execution returned


async def test_an_outcome_with_no_attempt_behind_it_is_ignored() -> None:
    provider, exporter = in_memory()
    tracing = TracingMiddleware(provider)
    job = JobRecord(id="j-2", task="gone", queue="default", payload=b"{}", attempts=1)

    tracing.job_ended(job, "failed", JobError("UnknownTask", "no such task"))

    assert exporter.get_finished_spans() == ()
