"""The dashboard tests' app and store: tasks of every kind, jobs of every state, a worker.

Jobs are put in their states through the backend's own operations (enqueue, claim, ack,
cancel), as a worker would, so every page is read from a real store of each backend.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
from pydantic import BaseModel, SecretStr

from conveyor import Context, Conveyor, Task, chain
from conveyor.backends.base import Ack, Lease, WorkerInfo
from conveyor.dashboard import Credentials, Role, dashboard_app
from conveyor.job import JobError, JobRecord, JobState
from conveyor.workflow_records import follow_ups, step_id

WORKER = "worker-1.example:4242:ab12"
BASE = "http://testserver"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/mail.py", line 12, in send_welcome\n'
    "    raise ConnectionError(host)\n"
    "ConnectionError: smtp.example.com refused the connection\n"
)
OPERATOR = ("ops", "correct horse battery staple")
VIEWER = ("auditor", "looking:only")


class Account(BaseModel):
    user: str
    password: SecretStr


async def send_welcome(
    to: str, account: Account, api_key: str, extra: dict[str, Any]
) -> dict[str, Any]:
    return {"to": to}


async def build_report(pages: int, ctx: Context = Context.INJECTED) -> int:
    return pages


def add(a: int, b: int) -> int:
    return a + b


async def nightly() -> None:
    return None


def build_app(url: str) -> Conveyor:
    app = Conveyor(url)
    app.task(name="mail.send_welcome", queue="emails", retries=2)(send_welcome)
    app.task(name="reports.build", queue="reports")(build_report)
    app.task(name="math.add")(add)
    app.cron("0 3 * * *", name="nightly-cleanup", timezone="Europe/Paris")(
        app.task(name="ops.nightly")(nightly)
    )
    return app


@dataclasses.dataclass
class Seeded:
    """The ids of the jobs put in each state."""

    succeeded: str
    failed: str
    retried: str  # failed once, waiting to retry (scheduled)
    cancelled: str
    active: str
    queued: str
    scheduled: str
    workflow: str  # a chain's id: its first step succeeded, its second waits

    def by_state(self) -> dict[str, str]:
        return {
            "succeeded": self.succeeded, "failed": self.failed, "cancelled": self.cancelled,
            "active": self.active, "queued": self.queued, "scheduled": self.scheduled,
        }  # fmt: skip


def email(to: str) -> tuple[str, Account, str, dict[str, Any]]:
    return to, Account(user="ada", password=SecretStr("hunter2")), "sk-live-123", {"note": "hi"}


async def seed(app: Conveyor) -> Seeded:
    """Jobs of every state, a live worker holding the active one, outcome counters."""
    backend = await app.connected()
    send = app.tasks["mail.send_welcome"]
    report = app.tasks["reports.build"]

    async def run_one(queue: str, handle_id: str) -> JobRecord:
        (claimed,) = await backend.claim([queue], 1, WORKER, 60.0)
        assert claimed.id == handle_id, (claimed.id, handle_id)
        return claimed

    def lease(record: JobRecord) -> Lease:
        assert record.lease_token is not None
        return Lease(record.id, record.lease_token)

    succeeded = await send.enqueue(*email("ok@example.com"))
    claimed = await run_one("emails", succeeded.id)
    result = b'{"to": "ok@example.com", "session_token": "s3"}'
    await backend.ack(
        [Ack(lease(claimed), JobState.SUCCEEDED, result=result, task=claimed.task,
             queue=claimed.queue)]
    )  # fmt: skip

    failed = await send.enqueue(*email("refused@example.com"))
    claimed = await run_one("emails", failed.id)
    error = JobError("ConnectionError", "smtp.example.com refused the connection", TRACEBACK)
    await backend.ack(
        [Ack(lease(claimed), JobState.FAILED, error=error, task=claimed.task, queue=claimed.queue)]
    )

    retried = await send.enqueue(*email("later@example.com"))
    claimed = await run_one("emails", retried.id)
    await backend.ack(
        [Ack(lease(claimed), JobState.SCHEDULED, error=error, retry_in=3600.0, task=claimed.task,
             queue=claimed.queue)]
    )  # fmt: skip

    active = await report.enqueue(40)
    claimed = await run_one("reports", active.id)
    started = await backend.now() - 120.0
    await backend.register_worker(
        WorkerInfo(WORKER, "worker-1.example", 4242, ("emails", "reports"), 8, started, 3),
        ttl=600.0,
    )

    cancelled = await send.enqueue(*email("nobody@example.com"))
    await backend.cancel(cancelled.id)
    queued = await report.enqueue(7)
    scheduled = await report.options(delay=7200).enqueue(9)

    add = cast("Task[[int, int], int]", app.tasks["math.add"])
    workflow = await chain(add.s(1, 2), add.step(3)).enqueue()
    first = await run_one("default", step_id(workflow.id, 0))
    await backend.ack(
        [Ack(lease(first), JobState.SUCCEEDED, result=b"3", follow_ups=follow_ups(first, b"3"),
             task=first.task, queue=first.queue)]
    )  # fmt: skip
    return Seeded(
        succeeded=succeeded.id, failed=failed.id, retried=retried.id, cancelled=cancelled.id,
        active=active.id, queued=queued.id, scheduled=scheduled.id, workflow=workflow.id,
    )  # fmt: skip


@asynccontextmanager
async def client(
    app: Conveyor, auth: tuple[str, str] | None = OPERATOR, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the dashboard of `app`, served in this process: signed in as
    `auth`, and by default the dashboard knows OPERATOR and VIEWER."""
    if not {"authorize", "open_access", "auth"} & options.keys():
        options["auth"] = [Credentials(*OPERATOR), Credentials(*VIEWER, role=Role.VIEWER)]
    served = dashboard_app(app, **options)
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=auth) as http:
        yield http


CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


async def csrf_token(http: httpx.AsyncClient, page: str = "/jobs") -> str:
    """The CSRF token a page gives this client's session."""
    answer = await http.get(page)
    assert answer.status_code == 200, answer.text
    found = CSRF.search(answer.text)
    assert found is not None, "no CSRF token on the page"
    return found[1]


async def post(
    http: httpx.AsyncClient, path: str, data: dict[str, Any], token: str | None = None
) -> httpx.Response:
    """A form POST as the page sends it, with this session's CSRF token unless given."""
    form = dict(data)
    form.setdefault("csrf_token", token if token is not None else await csrf_token(http))
    return await http.post(path, data=form)
