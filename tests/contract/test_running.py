"""Running jobs: progress, messages and checkpoints written under the lease."""

from __future__ import annotations

from conveyor.backends.base import Backend, Lease, RunningUpdate
from conveyor.job import JobState

from .support import ack, claim_one, enqueue, get, lease_of, make_job


async def test_update_running_stores_progress_message_and_checkpoint(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))

    accepted = await backend.update_running(
        [RunningUpdate(lease, progress=0.25, message="rendered", checkpoint=b'{"step": 1}')]
    )

    assert accepted == [True]
    record = await get(backend, "j")
    assert record.progress == 0.25
    assert record.progress_message == "rendered"
    assert record.checkpoint == b'{"step": 1}'
    assert record.state is JobState.ACTIVE


async def test_a_checkpoint_alone_keeps_the_progress(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))
    await backend.update_running([RunningUpdate(lease, progress=0.5, message="half")])

    await backend.update_running([RunningUpdate(lease, checkpoint=b"2")])

    record = await get(backend, "j")
    assert (record.progress, record.progress_message, record.checkpoint) == (0.5, "half", b"2")


async def test_new_progress_keeps_the_checkpoint(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))
    await backend.update_running([RunningUpdate(lease, progress=0.1, checkpoint=b"1")])

    await backend.update_running([RunningUpdate(lease, progress=0.9, message="nearly")])

    record = await get(backend, "j")
    assert (record.progress, record.progress_message, record.checkpoint) == (0.9, "nearly", b"1")


async def test_update_running_with_a_wrong_token_is_rejected(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))

    accepted = await backend.update_running(
        [
            RunningUpdate(Lease("j", "forged"), progress=0.9, checkpoint=b"evil"),
            RunningUpdate(Lease("unknown", "x"), progress=0.1),
            RunningUpdate(lease, progress=0.3),
        ]
    )

    assert accepted == [False, False, True]
    record = await get(backend, "j")
    assert record.progress == 0.3
    assert record.checkpoint is None


async def test_update_running_after_the_ack_is_rejected(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))
    assert await ack(backend, lease, JobState.SUCCEEDED)

    assert await backend.update_running([RunningUpdate(lease, progress=1.0)]) == [False]
    assert (await get(backend, "j")).progress is None


async def test_a_checkpoint_carries_over_to_the_next_attempt(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))
    await backend.update_running([RunningUpdate(lease, checkpoint=b'{"done": 40}')])
    assert await ack(backend, lease, JobState.SCHEDULED)

    again = await claim_one(backend)

    assert again.attempts == 2
    assert again.checkpoint == b'{"done": 40}'
