"""Signed and encrypted jobs, on every backend: every path that stores a job signs and
encrypts it, a worker runs them, keys rotate, and values round-trip through the worker."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobState, Retry, Task, chain, group
from conveyor.backends.base import JobFilter
from conveyor.encryption import is_sealed
from conveyor.fastapi.jobs import PendingJobs
from conveyor.job import JobRecord
from conveyor.scheduler import Scheduler
from conveyor.signing import SIGNATURE_HEADER
from conveyor.workflow_records import ARGUMENT_HEADERS

from .support import work_off

OLD, NEW, STRANGER = (secrets.token_bytes(32) for _ in range(3))
SEALED_OLD, SEALED_NEW = secrets.token_bytes(32), secrets.token_bytes(32)
MARK = "plain-text-mark-4711"  # an argument easy to find, were it stored in the clear


async def shout(text: str) -> str:
    return text.upper()


async def join(texts: list[str]) -> str:
    return "+".join(texts)


def append(text: str, suffix: str) -> str:
    return text + suffix


async def remember(text: str, ctx: Context) -> dict[str, Any]:
    """First attempt: report progress and save a checkpoint, then retry; second: read it."""
    if ctx.attempt == 1:
        await ctx.progress(0.5, f"halfway through {text}")
        await ctx.save_checkpoint({"seen": text})
        raise Retry(delay=0)
    return {"checkpoint": ctx.checkpoint, "attempt": ctx.attempt}


def in_a_process(text: str) -> str:
    return text[::-1]


@pytest.fixture
async def sealed_app(url: str) -> AsyncIterator[Conveyor]:
    """An app that signs with NEW (and accepts OLD) and encrypts with SEALED_NEW."""
    app = Conveyor(url, signing_keys=[NEW, OLD], encryption_keys=[SEALED_NEW, SEALED_OLD])
    try:
        yield app
    finally:
        await app.close()


async def every_job(app: Conveyor) -> list[JobRecord]:
    backend = await app.connected()
    return await backend.list_jobs(JobFilter(limit=1000))


async def test_every_path_that_stores_a_job_signs_and_encrypts_it(sealed_app: Conveyor) -> None:
    app = sealed_app
    shout_ = app.task(name="shout")(shout)
    join_ = app.task(name="join")(join)
    append_ = app.task(name="append")(append)
    app.add_schedule("hourly", "0 * * * *", shout_.s(MARK))

    one = await shout_.enqueue(MARK)
    named = await shout_.options(job_id="named", priority=3).enqueue(MARK)
    many = await app.enqueue_many([shout_.s(MARK), append_.s(MARK, "!")])
    pending = PendingJobs()  # what a FastAPI endpoint's `jobs: Jobs` is
    added = pending.add(append_, MARK, "?")
    await pending.store()
    steps = await chain(shout_.s(MARK), append_.step("-1"), append_.step("-2")).enqueue()
    chord = await group(shout_.s(MARK), shout_.s("b")).then(join_.step()).enqueue()
    [tick] = await Scheduler(app).enqueue_due(await (await app.connected()).now())
    await work_off(app)

    loud = MARK.upper()
    assert await one.result() == await named.result() == await many[0].result() == loud
    assert await many[1].result() == MARK + "!"
    assert await added.result() == MARK + "?"
    assert await tick.result() == loud
    assert await steps.result() == loud + "-1-2"
    assert await chord.result() == f"{loud}+B"
    stored = await every_job(app)
    # the chain's two follow-ups, the chord's callback and its two join checks included
    assert len(stored) == 14
    for record in stored:
        assert record.state is JobState.SUCCEEDED, (record.id, record.error)
        assert SIGNATURE_HEADER in record.headers, record.id
        assert is_sealed(record.payload), record.id
        assert is_sealed(record.result or b""), record.id
        assert MARK not in repr(record), record.id
        for name in ARGUMENT_HEADERS:
            if name in record.headers:
                assert is_sealed(record.headers[name]), (record.id, name)


async def test_results_checkpoints_and_progress_round_trip_encrypted(
    sealed_app: Conveyor,
) -> None:
    task: Task[..., Any] = sealed_app.task(name="remember", retries=1)(remember)
    job = await task.enqueue(MARK)
    await work_off(sealed_app)

    assert await job.result() == {"checkpoint": {"seen": MARK}, "attempt": 2}
    info = await job.info()
    assert info.progress == 0.5
    assert info.progress_message == f"halfway through {MARK}"
    stored = await (await sealed_app.connected()).get(job.id)
    assert stored is not None
    assert stored.progress_message is not None
    assert is_sealed(stored.progress_message)
    assert stored.checkpoint is not None
    assert is_sealed(stored.checkpoint)
    assert MARK not in repr(stored)


async def test_a_process_task_gets_its_arguments_decrypted(sealed_app: Conveyor) -> None:
    task: Task[..., Any] = sealed_app.task(name="reverse", executor="process")(in_a_process)
    job = await task.enqueue(MARK)
    await work_off(sealed_app)
    assert await job.result() == MARK[::-1]


async def test_keys_rotate_old_jobs_still_run_unknown_keys_do_not(
    sealed_app: Conveyor, url: str
) -> None:
    """The app signs with NEW and keeps OLD: jobs an older producer wrote with OLD (and
    SEALED_OLD) run; a job signed by a key it never held fails bad_signature."""
    ran: list[str] = []

    def record_run(text: str) -> str:
        ran.append(text)
        return text

    app = sealed_app
    older = Conveyor(url, signing_keys=[OLD], encryption_keys=[SEALED_OLD])
    stranger = Conveyor(url, signing_keys=[STRANGER], encryption_keys=[SEALED_OLD])
    written_by = {}
    for name, producer in (("older", older), ("stranger", stranger), ("current", app)):
        call = producer.task(name="record")(record_run).s(name)
        # stored as that producer stores it, into the app's store (one store per app on memory://)
        await (await app.connected()).enqueue(producer.sealed([call.record]))
        written_by[name] = call.record.id
    await work_off(app)

    backend = await app.connected()
    outcomes = {name: await backend.get(job_id) for name, job_id in written_by.items()}
    assert sorted(ran) == ["current", "older"]
    assert outcomes["older"] is not None
    assert outcomes["older"].state is JobState.SUCCEEDED
    assert app.decode_result(outcomes["older"]) == "older"
    refused = outcomes["stranger"]
    assert refused is not None
    assert refused.state is JobState.FAILED
    assert refused.error is not None
    assert refused.error.reason == "bad_signature"
    assert "signed with a key this app does not hold" in refused.error.message
