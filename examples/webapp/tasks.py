"""The example's jobs: an email that may need a retry, a report that reports progress,
a webhook whose receiver may be down for good. Nothing leaves the machine: the mail server
and the webhook receivers are simulated by the address they are given."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from conveyor import Context, Conveyor
from conveyor.middleware.prometheus import PrometheusMiddleware

# no URL: $CONVEYOR_URL, else sqlite:///./conveyor.db (the demo sets $CONVEYOR_URL); the
# API and the worker each count what they enqueue and run, served at /metrics
conveyor = Conveyor(middleware=[PrometheusMiddleware()])
logger = logging.getLogger(__name__)


class MailServerBusy(Exception):
    """What a real SMTP client raises on a "421 try again later"."""


class WebhookRejected(Exception):
    """The receiver answered with an error status."""


@conveyor.task(retries=4, backoff="exponential", backoff_base=0.5, timeout=10)
async def send_welcome_email(email: str, ctx: Context = Context.INJECTED) -> dict[str, Any]:
    """The mail server at flaky.example is busy at the first attempt: a retry delivers."""
    logger.info("sending the welcome email to %s (attempt %d)", email, ctx.attempt)
    await asyncio.sleep(0.2)
    if email.endswith("@flaky.example") and ctx.attempt == 1:
        raise MailServerBusy("421 mail.flaky.example busy, try again later")
    return {"to": email, "delivered_on_attempt": ctx.attempt}


@conveyor.task(queue="reports", timeout=300)
async def build_report(
    report_id: int, pages: int = 5, ctx: Context = Context.INJECTED
) -> dict[str, Any]:
    """Renders page after page, reporting progress as it goes: watch it on /events."""
    for page in range(1, pages + 1):
        await asyncio.sleep(0.4)
        await ctx.progress(page / pages, f"rendered page {page}/{pages}")
    logger.info("report %d ready: %d pages", report_id, pages)
    return {"report_id": report_id, "pages": pages, "url": f"/reports/{report_id}.pdf"}


@conveyor.task(retries=3, backoff="exponential", backoff_base=0.3, timeout=10)
async def deliver_webhook(
    url: str, event: dict[str, Any], ctx: Context = Context.INJECTED
) -> dict[str, Any]:
    """Receivers on down.example always answer 503: after 4 attempts the job is dead-lettered
    (state `failed`, kept for inspection and `conveyor jobs retry`). Receivers on
    slow.example answer 503 twice, then 200."""
    host = urlsplit(url).hostname or ""
    await asyncio.sleep(0.05)
    if host.endswith("down.example") or (host.endswith("slow.example") and ctx.attempt <= 2):
        raise WebhookRejected(f"POST {url} answered 503 Service Unavailable")
    return {"url": url, "event": event.get("type"), "status": 200, "attempt": ctx.attempt}


@conveyor.cron("*/15 * * * *", name="tidy-reports")
async def tidy_reports() -> None:
    """Every quarter of an hour, once however many workers run: drop the rendered reports
    nobody fetched (simulated). The dashboard's Schedules page shows it, and runs it now."""
    logger.info("tidied the reports folder")
