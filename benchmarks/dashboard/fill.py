"""The store the dashboard is timed against, written through the backend's own calls.

An app with four queues, six tasks and three cron schedules. Its history is enqueued,
claimed and acknowledged in batches (`Backend.enqueue`, `claim`, `ack`): each record is
exactly what a worker would leave behind, with the finished-job counters, indexes and
per-minute outcome counters each backend keeps beside it. Then what is live: queued jobs,
scheduled ones, a group workflow, jobs held by registered workers, a paused queue. Only the
outcome counters of the day before the load are written around the backend (its clock
cannot be moved back): each store does it in its own layout, and the harness checks that
`outcome_counts` reads back every count it wrote.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from conveyor import Conveyor, JobError, JobState, Signature, Task, group
from conveyor.backends.base import Ack, Backend, JobFilter, Lease, WorkerInfo, minute_of
from conveyor.job import JobRecord
from conveyor.scheduler import Scheduler
from conveyor.workflow_records import step_id

QUEUES = ("default", "emails", "reports", "webhooks")
PAUSED_QUEUE = "reports"
FAILING_QUEUE = "webhooks"  # the queue most failures come from: `state=failed&queue=`
LEASE = 7200.0  # seconds: the loader's and the workers' leases outlive the run
WORKER_TTL = 7200.0
WORKFLOW_SIZE = 20
DAY = 86400.0


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    succeeded: int = 1_000_000
    failed: int = 10_000
    cancelled: int = 1_000
    queued: int = 5_000
    scheduled: int = 2_000
    workers: int = 4
    active_per_worker: int = 50
    batch: int = 5_000  # jobs per enqueue, claim and ack while loading the history

    @property
    def history(self) -> int:
        return self.succeeded + self.failed + self.cancelled


QUICK = Sizes(succeeded=100_000, failed=1_000, cancelled=100)


# -- the app -------------------------------------------------------------------------------
# The tasks never run: only their names, queues and argument codecs matter.


def send_email(to: str, template: str, context: dict[str, str]) -> str:
    return f"<{template}@{to}>"


def deliver_webhook(url: str, event: str, body: dict[str, Any]) -> int:
    return 200


def resize_image(path: str, width: int, height: int) -> dict[str, int]:
    return {"width": width, "height": height}


def render_report(report_id: int, fmt: str) -> str:
    return f"reports/{report_id}.{fmt}"


def sync_account(account_id: int, full: bool) -> int:
    return account_id


def clean_up(older_than_days: int) -> int:
    return older_than_days


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """A task of the app: where its jobs go, how often, and how often they fail."""

    name: str
    queue: str
    function: Callable[..., Any]
    weight: float  # share of the jobs
    fails: float  # share of the failures
    arguments: Callable[[random.Random, int], tuple[Any, ...]]
    result: Any


KINDS = (
    Kind(
        "emails.send", "emails", send_email, 40, 15,
        lambda r, i: (f"user{i}@example.com", r.choice(("welcome", "receipt", "reset")),
                      {"name": f"User {i}", "plan": r.choice(("free", "pro", "team"))}),
        "<message-id@example.com>",
    ),
    Kind(
        "webhooks.deliver", "webhooks", deliver_webhook, 25, 60,
        lambda r, i: (f"https://hooks.example.com/{r.randrange(500)}/in",
                      r.choice(("order.paid", "order.shipped", "user.created")),
                      {"id": i, "amount": r.randrange(10_000), "currency": "EUR"}),
        200,
    ),
    Kind(
        "images.resize", "default", resize_image, 20, 10,
        lambda r, i: (f"uploads/{i // 1000}/{i}.jpg", r.choice((320, 640, 1280)), 0),
        {"width": 640, "height": 480},
    ),
    Kind(
        "reports.render", "reports", render_report, 10, 10,
        lambda r, i: (i, r.choice(("pdf", "csv"))),
        "reports/1.pdf",
    ),
    Kind(
        "accounts.sync", "default", sync_account, 5, 5,
        lambda r, i: (i, r.random() < 0.1),
        1,
    ),
)  # fmt: skip
# one job in 20,000 (and the oldest one), and the nightly schedule's ticks
RARE = Kind("maintenance.clean_up", "reports", clean_up, 0.005, 0, lambda r, i: (30,), 0)
EVERY_KIND = (*KINDS, RARE)
SCHEDULES = (
    ("clean-up-nightly", "0 3 * * *", "maintenance.clean_up"),
    ("reports-hourly", "0 * * * *", "reports.render"),
    ("accounts-every-5-minutes", "*/5 * * * *", "accounts.sync"),
)
TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/.venv/lib/python3.12/site-packages/conveyor/worker.py", line 388, in _execute
    await self.app.middleware_chain.execute(record, running.run)
  File "/srv/app/hooks/deliver.py", line 41, in deliver_webhook
    response = client.post(url, json=body, timeout=10)
  File "/srv/app/.venv/lib/python3.12/site-packages/httpx/_client.py", line 1144, in post
    return self.request("POST", url, json=json, timeout=timeout)
  File "/srv/app/.venv/lib/python3.12/site-packages/httpx/_transports/default.py", line 72, in map_httpcore_exceptions
    raise mapped_exc(message) from exc
httpx.ConnectError: [Errno 111] Connection refused
"""  # noqa: E501
ERROR = JobError("ConnectError", "[Errno 111] Connection refused", TRACEBACK, "exception")
CANCELLED = JobError("Cancelled", "cancelled on request while running", reason="cancelled")


def build_app(url: str) -> Conveyor:
    app = Conveyor(url)
    for kind in EVERY_KIND:
        app.task(name=kind.name, queue=kind.queue, retries=2)(kind.function)
    for name, expression, task in SCHEDULES:
        arguments = next(k for k in EVERY_KIND if k.name == task).arguments
        app.add_schedule(name, expression, app.tasks[task].s(*arguments(random.Random(0), 1)))
    return app


# -- the load ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Landmarks:
    """What the timed calls point at, found while loading."""

    failed_id: str
    succeeded_id: str
    workflow_step_id: str
    since: float  # about a tenth of the history was enqueued between these two
    until: float
    load_seconds: float  # the history, through enqueue, claim and ack
    outcome_counts: int  # per-minute counters in the day shown by the charts
    counts: dict[str, dict[JobState, int]]

    @property
    def id_prefix(self) -> str:
        # an id's first 12 characters are its millisecond: 2 more pick out about one job
        return self.succeeded_id[:14]

    def total(self, state: JobState) -> int:
        return sum(per.get(state, 0) for per in self.counts.values())


OutcomeRow = tuple[float, str, str, str, int]  # minute, queue, task, outcome, count
Backfill = Callable[[list[OutcomeRow]], Awaitable[None]]
Say = Callable[[str], None]


async def fill(app: Conveyor, sizes: Sizes, backfill: Backfill, say: Say) -> Landmarks:
    backend = await app.connected()
    rng = random.Random(12)
    first_minute = minute_of(await backend.now()) - DAY + 60
    # each schedule's latest tick, as a worker's scheduler enqueues it: finished by the load
    ticks = await Scheduler(app).enqueue_due(await backend.now())
    history = await load_history(app, backend, sizes, rng, say)
    rows = _outcome_rows(first_minute, rng)
    await backfill(rows)
    step = await _live(app, backend, sizes, rng)
    written = sum(row[-1] for row in rows) + sizes.history + len(ticks)
    read = await backend.outcome_counts(first_minute)
    if sum(count.count for count in read) != written:
        raise RuntimeError(
            f"the store's outcome counters add up to {sum(c.count for c in read)}, not the "
            f"{written} written: the benchmark's backfill no longer matches how "
            f"{backend.url.split(':')[0]} stores them"
        )
    counts = await backend.counts()
    failed = sum(per.get(JobState.FAILED, 0) for per in counts.values())
    succeeded = sum(per.get(JobState.SUCCEEDED, 0) for per in counts.values())
    if failed != sizes.failed or succeeded < sizes.succeeded:
        raise RuntimeError(f"the store holds {succeeded} succeeded and {failed} failed jobs")
    return dataclasses.replace(
        history, workflow_step_id=step, outcome_counts=len(read), counts=counts
    )


async def load_history(
    app: Conveyor, backend: Backend, sizes: Sizes, rng: random.Random, say: Say
) -> Landmarks:
    """Every finished job, batch after batch: enqueued, claimed by a loader, acknowledged
    succeeded, failed (with a traceback) or cancelled; the outcomes are spread at random."""
    plan = bytearray(sizes.history)  # 0 succeeded, 1 failed, 2 cancelled
    unusual = rng.sample(range(sizes.history), sizes.failed + sizes.cancelled)
    for i in unusual[: sizes.failed]:
        plan[i] = 1
    for i in unusual[sizes.failed :]:
        plan[i] = 2
    tasks = {kind.name: app.tasks[kind.name] for kind in EVERY_KIND}
    results = {kind.name: tasks[kind.name].result_codec.encode(kind.result) for kind in EVERY_KIND}
    weights = [kind.weight for kind in EVERY_KIND]
    failing = [kind.fails for kind in EVERY_KIND]
    since = until = 0.0  # about a tenth of the history is enqueued between the two
    failed_id = succeeded_id = ""
    started = last_said = time.monotonic()
    for start in range(0, sizes.history, sizes.batch):
        end = min(start + sizes.batch, sizes.history)
        if start <= sizes.history * 0.45 < end:
            since = await backend.now()
        outcome: dict[str, int] = {}
        records: list[JobRecord] = []
        for i in range(start, end):
            kind = rng.choices(EVERY_KIND, failing if plan[i] == 1 else weights)[0]
            if i == 0:  # the rare task has one job at least, however small the history
                kind = RARE
            record = tasks[kind.name].s(*kind.arguments(rng, i)).record
            records.append(record)
            outcome[record.id] = plan[i]
        if start <= sizes.history // 2 < end:  # jobs from the middle of the history
            failed_id = next((r.id for r in records if outcome[r.id] == 1), "")
            succeeded_id = next((r.id for r in records if outcome[r.id] == 0), "")
        await _run_through(backend, records, outcome, results)
        if start <= sizes.history * 0.55 < end:
            until = await backend.now()
        if time.monotonic() - last_said > 15:
            last_said = time.monotonic()
            rate = end / (last_said - started)
            say(f"    loaded {end:,} of {sizes.history:,} finished jobs ({rate:,.0f}/s)")
    failed_id = failed_id or await _any(backend, JobState.FAILED)  # none in the middle
    succeeded_id = succeeded_id or await _any(backend, JobState.SUCCEEDED)
    return Landmarks(
        failed_id=failed_id, succeeded_id=succeeded_id, workflow_step_id="", since=since,
        until=until, load_seconds=time.monotonic() - started,
        outcome_counts=0, counts={},
    )  # fmt: skip


async def _run_through(
    backend: Backend, records: Sequence[JobRecord], outcome: dict[str, int],
    results: dict[str, bytes],
) -> None:  # fmt: skip
    """Enqueue the records, then claim and acknowledge until none is left (jobs enqueued
    before, such as the schedules' ticks, go with them and succeed)."""
    await backend.enqueue(records)
    left = len(records)
    while left > 0:
        claimed = await backend.claim(QUEUES, max(left, 1), "loader", LEASE)
        if not claimed:
            raise RuntimeError(f"{left} jobs of the load could not be claimed")
        acks = []
        for job in claimed:
            lease = Lease(job.id, job.lease_token or "")
            kind = outcome.pop(job.id, 0)
            if kind == 1:
                ack = Ack(lease, JobState.FAILED, error=ERROR, task=job.task, queue=job.queue)
            elif kind == 2:
                state = JobState.CANCELLED
                ack = Ack(lease, state, error=CANCELLED, task=job.task, queue=job.queue)
            else:
                result = results.get(job.task, b"null")
                ack = Ack(lease, JobState.SUCCEEDED, result, task=job.task, queue=job.queue)
            acks.append(ack)
        if not all(await backend.ack(acks)):
            raise RuntimeError("an acknowledgement of the load was refused")
        left = len(outcome)


async def _any(backend: Backend, state: JobState) -> str:
    page = await backend.page_jobs(JobFilter(state=state, limit=1))
    return page.jobs[0].id


def _outcome_rows(first_minute: float, rng: random.Random) -> list[OutcomeRow]:
    """Per-minute counters for the day before the load: every task succeeds every minute,
    and now and then one is retried, fails or is cancelled."""
    rows: list[OutcomeRow] = []
    for m in range(int(DAY // 60) - 1):
        minute = first_minute + 60.0 * m
        for kind in KINDS:
            rows.append(
                (minute, kind.queue, kind.name, "succeeded", rng.randint(1, int(kind.weight) * 2))
            )
            if rng.random() < 0.3:
                rows.append((minute, kind.queue, kind.name, "retried", rng.randint(1, 5)))
            if rng.random() < 0.1 + kind.fails / 200:
                rows.append((minute, kind.queue, kind.name, "failed", rng.randint(1, 3)))
            if rng.random() < 0.02:
                rows.append((minute, kind.queue, kind.name, "cancelled", 1))
    return rows


async def _live(app: Conveyor, backend: Backend, sizes: Sizes, rng: random.Random) -> str:
    """Queued jobs, some of them then held by registered workers; scheduled ones; a group
    workflow, queued; and a paused queue. The id of the workflow's first step."""
    tasks: dict[str, Task[Any, Any]] = {kind.name: app.tasks[kind.name] for kind in KINDS}
    weights = [kind.weight for kind in KINDS]
    base = sizes.history

    def calls(count: int, offset: int) -> list[Signature[Any]]:
        chosen = rng.choices(KINDS, weights, k=count)
        return [
            tasks[kind.name].s(*kind.arguments(rng, base + offset + i))
            for i, kind in enumerate(chosen)
        ]

    await app.enqueue_many(calls(sizes.queued, 0))
    now = await backend.now()
    for w in range(sizes.workers):
        name = f"worker-{w + 1}@bench-host"
        held = await backend.claim(QUEUES, sizes.active_per_worker, name, LEASE)
        info = WorkerInfo(
            name=name, host="bench-host", pid=1000 + w, queues=QUEUES, concurrency=50,
            started_at=now - 3600.0, processed=sizes.history // sizes.workers + len(held),
        )  # fmt: skip
        await backend.register_worker(info, WORKER_TTL)
    later = [
        Signature(c.task, dataclasses.replace(c.record, delay=60.0 + rng.random() * 3600))
        for c in calls(sizes.scheduled, sizes.queued)
    ]
    await app.enqueue_many(later)
    members = [
        tasks["emails.send"].s(f"member{i}@example.com", "welcome", {})
        for i in range(WORKFLOW_SIZE)
    ]
    workflow = await group(*members).enqueue(os.urandom(8).hex())
    await backend.pause_queue(PAUSED_QUEUE)
    return step_id(workflow.id, 0)
