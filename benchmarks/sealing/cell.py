"""One cell: N jobs enqueued by an app with a variant's keys, then drained by a worker in
the same process; wall time and this process's CPU time of each half, per job.

Every job is verified: the queue must say N succeeded and nothing else, and every result
must read back as the task returned it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from typing import Literal, get_args

from conveyor import Conveyor
from conveyor.job import JobState
from conveyor.worker import Worker

Variant = Literal["off", "signed", "encrypted", "both"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)
DESCRIPTIONS: dict[Variant, str] = {
    "off": "no keys",
    "signed": "`signing_keys=[key]`: HMAC-SHA256 at enqueue, checked at claim",
    "encrypted": "`encryption_keys=[key]`: AES-256-GCM of arguments and results",
    "both": "both keys",
}
BATCH = 1000  # jobs per enqueue_many
SIGNING_KEY, ENCRYPTION_KEY = secrets.token_bytes(32), secrets.token_bytes(32)
# arguments of a typical size: an order, about 300 bytes of JSON
ORDER = {
    "customer": "c-0042",
    "email": "someone@example.com",
    "lines": [{"sku": f"sku-{i}", "quantity": i, "price": "19.90"} for i in range(4)],
    "note": "leave at the door",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    n: int = 20000
    concurrency: int = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Half:
    """Enqueueing or draining N jobs: wall and CPU seconds."""

    seconds: float
    cpu_seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    enqueue: Half
    drain: Half
    problem: str | None


def app_for(url: str, variant: Variant) -> Conveyor:
    signing = [SIGNING_KEY] if variant in ("signed", "both") else None
    encryption = [ENCRYPTION_KEY] if variant in ("encrypted", "both") else None
    app = Conveyor(url, signing_keys=signing, encryption_keys=encryption)

    @app.task(name="bench.order", retries=0)
    async def order(index: int, body: dict[str, object]) -> dict[str, int]:
        return {"index": index, "lines": len(body["lines"])}  # type: ignore[arg-type]

    return app


async def run(url: str, variant: Variant, sizes: Sizes) -> Result:
    app = app_for(url, variant)
    task = app.tasks["bench.order"]
    async with app:
        enqueue_started = _now()
        handles = []
        for first in range(0, sizes.n, BATCH):
            calls = [task.s(i, ORDER) for i in range(first, min(first + BATCH, sizes.n))]
            handles += await app.enqueue_many(calls)
        enqueued = _now()
        worker = Worker(app, concurrency=sizes.concurrency, burst=True, scheduler=False)
        await worker.run()
        drained = _now()
        step = max(1, sizes.n // 100)
        problem = await _check(app, sizes.n, [(i, handles[i].id) for i in range(0, sizes.n, step)])
    return Result(
        Half(enqueued[0] - enqueue_started[0], enqueued[1] - enqueue_started[1]),
        Half(drained[0] - enqueued[0], drained[1] - enqueued[1]),
        problem,
    )


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


async def _check(app: Conveyor, n: int, sample: list[tuple[int, str]]) -> str | None:
    """What disagrees with all N jobs having succeeded; a sample's results read back."""
    counts = (await app.backend.counts()).get(app.default_queue, {})
    succeeded = counts.get(JobState.SUCCEEDED, 0)
    others = {state.value: k for state, k in counts.items() if state is not JobState.SUCCEEDED}
    if succeeded != n or any(others.values()):
        return f"{succeeded} of {n} succeeded, others {others}"
    lines = len(ORDER["lines"])
    for index, job_id in sample:
        result = await app.job(job_id).result(timeout=5)
        if result != {"index": index, "lines": lines}:
            return f"job {job_id} read back {result!r}"
    return None


def drain(url: str, variant: Variant, sizes: Sizes) -> Result:
    return asyncio.run(run(url, variant, sizes))
