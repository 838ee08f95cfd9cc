"""Signed and encrypted jobs changed in the store: refused before anything is read.

Jobs are enqueued by a signing (and encrypting) app, then changed straight in the store
(SQL UPDATE on SQLite and PostgreSQL, HSET on Redis, the record of a memory store), as
someone with write access to the store but not the keys could. A worker then runs the
store: each changed job ends `failed`, reason `bad_signature`, without its task running;
the jobs left alone run. An encrypting app's store, read the same way, holds no argument,
result, checkpoint or progress message in the clear.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobState, Task, Worker, chain
from conveyor.job import JobRecord
from conveyor.signing import SIGNATURE_HEADER
from conveyor.workflow_records import NEXT_HEADER
from live_services import fresh_postgres, fresh_redis

from .raw_store import RawStore

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

SIGNING_KEY, ENCRYPTION_KEY = secrets.token_bytes(32), secrets.token_bytes(32)
MARK = "mark-4711"  # an argument easy to find in a store
RUNS: list[str] = []  # what the tasks were called with, in this process


def echo(text: str) -> str:
    RUNS.append(text)
    return text


def other(text: str) -> str:
    RUNS.append(f"other:{text}")
    return text


async def report(text: str, ctx: Context) -> str:
    RUNS.append(text)
    await ctx.progress(0.5, f"working on {text}")
    await ctx.save_checkpoint({"seen": text})
    return f"done with {text}"


def suffix(text: str, tail: str) -> str:
    RUNS.append(f"{text}{tail}")
    return text + tail


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    RUNS.clear()
    if request.param == "memory":
        yield "memory://"
    elif request.param == "redis":
        yield fresh_redis()
    elif request.param == "postgres":
        with fresh_postgres() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture(params=["signed", "signed+encrypted"])
async def app(request: pytest.FixtureRequest, url: str) -> AsyncIterator[Conveyor]:
    encryption = [ENCRYPTION_KEY] if request.param == "signed+encrypted" else None
    conveyor = Conveyor(url, signing_keys=[SIGNING_KEY], encryption_keys=encryption)
    conveyor.task(name="echo")(echo)
    conveyor.task(name="other")(other)
    try:
        yield conveyor
    finally:
        await conveyor.close()


async def work_off(app: Conveyor) -> None:
    """Run a worker in this process until no job is due."""
    worker = Worker(app, burst=True, concurrency=4, lease=2.0, heartbeat=0.1, idle_poll=0.05)
    async with asyncio.timeout(20):
        await worker.run()


async def outcomes(app: Conveyor, job_ids: list[str]) -> dict[str, str]:
    """How each job ended: its state, and a failed job's reason."""
    backend = await app.connected()
    ended: dict[str, str] = {}
    for job_id in job_ids:
        record = await backend.get(job_id)
        assert record is not None, job_id
        ended[job_id] = record.state.value
        if record.state is JobState.FAILED and record.error is not None:
            ended[job_id] += f": {record.error.reason}"
    return ended


async def test_a_job_changed_in_the_store_fails_bad_signature_and_never_runs(
    app: Conveyor,
) -> None:
    echo_task = app.tasks["echo"]
    ids = ["untouched", "donor", "arguments", "headers", "task", "unsigned", "borrowed"]
    for job_id in ids:
        await echo_task.options(job_id=job_id).enqueue(f"{MARK}:{job_id}")
    raw = RawStore(await app.connected())
    donor_headers = raw.read("donor", "headers")
    assert isinstance(donor_headers, dict)

    raw.write("arguments", "payload", raw.read("donor", "payload"))  # another job's arguments
    headers = raw.read("headers", "headers")
    assert isinstance(headers, dict)
    raw.write("headers", "headers", {**headers, "tenant": "someone-else"})
    raw.write("task", "task", "other")  # the same arguments, for another task
    unsigned = raw.read("unsigned", "headers")
    assert isinstance(unsigned, dict)
    del unsigned[SIGNATURE_HEADER]
    raw.write("unsigned", "headers", unsigned)
    raw.write("borrowed", "headers", donor_headers)  # a valid signature, of another job
    await work_off(app)

    bad = "failed: bad_signature"
    assert await outcomes(app, ids) == {
        "untouched": "succeeded",
        "donor": "succeeded",
        "arguments": bad,
        "headers": bad,
        "task": bad,
        "unsigned": bad,
        "borrowed": bad,
    }
    assert sorted(RUNS) == [f"{MARK}:donor", f"{MARK}:untouched"], "a changed job ran"


async def test_a_job_stored_without_a_signature_fails_bad_signature(app: Conveyor) -> None:
    """As a producer without the key stores it: straight into the backend, unsigned."""
    record = app.tasks["echo"].s(MARK).record
    await (await app.connected()).enqueue([record])
    await work_off(app)

    stored = await (await app.connected()).get(record.id)
    assert stored is not None
    assert stored.state is JobState.FAILED
    assert stored.error is not None
    assert stored.error.reason == "bad_signature"
    assert stored.error.message.startswith("the job carries no signature")
    assert stored.attempts == 1, "a forged job is not retried"
    assert RUNS == []


@pytest.fixture
async def encrypting(url: str) -> AsyncIterator[Conveyor]:
    """Encryption alone: what the store holds, and what the cipher itself refuses."""
    conveyor = Conveyor(url, encryption_keys=[ENCRYPTION_KEY])
    try:
        yield conveyor
    finally:
        await conveyor.close()


async def test_an_encrypted_store_holds_no_plaintext(encrypting: Conveyor) -> None:
    app = encrypting
    reporting: Task[..., Any] = app.task(name="report")(report)
    step = app.task(name="suffix")(suffix)
    job = await reporting.enqueue(MARK)
    steps = await chain(step.s("first", "-"), step.step(MARK)).enqueue()
    raw = RawStore(await app.connected())
    first: dict[str, str] = raw.read(f"{steps.id}:0", "headers")  # type: ignore[assignment]
    assert MARK not in repr(first[NEXT_HEADER]), "a later step's arguments are in the clear"
    await work_off(app)

    assert await job.result() == f"done with {MARK}"
    assert (await job.info()).progress_message == f"working on {MARK}"
    assert await steps.result() == f"first-{MARK}"
    for job_id in (job.id, f"{steps.id}:0", f"{steps.id}:1"):
        for field in ("payload", "headers", "result", "checkpoint", "progress_message"):
            value = raw.read(job_id, field)
            assert MARK.encode() not in _bytes(value), f"{field} of {job_id} is in the clear"
    assert raw.read(job.id, "checkpoint") is not None
    assert raw.read(job.id, "progress_message") is not None


async def test_a_ciphertext_moved_to_another_job_does_not_decrypt(encrypting: Conveyor) -> None:
    """The cipher's associated data is the job's id: another job's arguments, copied into
    this job's row, fail to decrypt (undecodable) and never run."""
    task = encrypting.task(name="echo")(echo)
    await task.options(job_id="original").enqueue(MARK)
    await task.options(job_id="target").enqueue("target")
    raw = RawStore(await encrypting.connected())
    raw.write("target", "payload", raw.read("original", "payload"))
    await work_off(encrypting)

    assert await outcomes(encrypting, ["original", "target"]) == {
        "original": "succeeded",
        "target": "failed: undecodable",
    }
    record: JobRecord | None = await (await encrypting.connected()).get("target")
    assert record is not None
    assert record.error is not None
    assert "moved from another job" in record.error.message
    assert RUNS == [MARK]


def _bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return repr(value).encode()
