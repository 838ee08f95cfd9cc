"""The Sentry middleware of examples/observability: a real Sentry client whose transport
keeps events in memory. A failing attempt is reported with the job's tags, and the job
still follows its retry policy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from examples.observability.sentry import SentryMiddleware
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from conveyor import Context, Conveyor, JobState, Retry, Worker


class KeepEvents(Transport):
    """Sentry's transport seam: what the client would send, kept in a list instead."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


@pytest.fixture
def sentry() -> Iterator[KeepEvents]:
    transport = KeepEvents()
    sentry_sdk.init(
        dsn="https://key@sentry.invalid/1",
        transport=transport,
        # only what the tests need: the default integrations patch the stdlib for good
        default_integrations=False,
        integrations=[LoggingIntegration()],
    )
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: a client that sends nothing, for the tests after this


logger = logging.getLogger(__name__)


class GatewayTimeout(Exception):
    pass


async def charge(order_id: int, ctx: Context = Context.INJECTED) -> str:
    """The payment gateway times out at the first attempt."""
    logger.warning("charging order %d, attempt %d", order_id, ctx.attempt)
    if ctx.attempt == 1:
        raise GatewayTimeout(f"the gateway timed out charging order {order_id}")
    return "charged"


async def poll(ctx: Context = Context.INJECTED) -> None:
    """Asks to run again once, as a task that waits on something does."""
    if ctx.attempt == 1:
        raise Retry(delay=0, reason="not ready yet")


async def crash() -> None:
    logger.warning("the gateway is down")
    raise GatewayTimeout("down")


async def work_off(app: Conveyor) -> None:
    async with asyncio.timeout(10):
        await Worker(app, burst=True, idle_poll=0.05).run()


async def test_a_failing_attempt_is_reported_with_the_jobs_tags(sentry: KeepEvents) -> None:
    app = Conveyor("memory://", middleware=[SentryMiddleware()])
    task = app.task(retries=1, backoff="constant", backoff_base=0)(charge)

    async with app:
        job = await task.enqueue(42)
        await work_off(app)
        info = await job.info()
        assert info.state is JobState.SUCCEEDED  # the retry policy stood: attempt 2 ran
        assert info.attempts == 2

    sentry_sdk.flush()
    (event,) = sentry.events  # only the failing attempt
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "GatewayTimeout"
    assert exception["value"] == "the gateway timed out charging order 42"
    assert event["tags"] == {
        "conveyor.task": task.name,
        "conveyor.queue": "default",
        "conveyor.job_id": job.id,
        "conveyor.attempt": "1",
        "conveyor.final_attempt": "false",
    }
    crumbs = [crumb["message"] for crumb in event["breadcrumbs"]["values"]]
    assert "charging order 42, attempt 1" in crumbs  # the attempt's own log lines


async def test_an_explicit_retry_is_not_reported(sentry: KeepEvents) -> None:
    app = Conveyor("memory://", middleware=[SentryMiddleware()])
    task = app.task(retries=1)(poll)

    async with app:
        job = await task.enqueue()
        await work_off(app)
        assert (await job.info()).state is JobState.SUCCEEDED

    sentry_sdk.flush()
    assert sentry.events == []


async def test_tags_and_log_lines_stay_with_the_jobs_event(sentry: KeepEvents) -> None:
    app = Conveyor("memory://", middleware=[SentryMiddleware()])
    task = app.task(retries=0)(crash)

    async with app:
        await task.enqueue()
        await work_off(app)
    sentry_sdk.capture_message("after the job")

    sentry_sdk.flush()
    failed, after = sentry.events
    assert failed["tags"]["conveyor.final_attempt"] == "true"
    assert "conveyor.task" not in after.get("tags", {})
    crumbs = [crumb["message"] for crumb in after.get("breadcrumbs", {}).get("values", [])]
    assert "the gateway is down" not in crumbs
