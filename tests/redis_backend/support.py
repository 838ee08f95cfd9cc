"""What the Redis-only tests share: counting the commands Redis ran, and filling a store."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator

from conveyor.backends.base import Ack, Lease
from conveyor.backends.redis import RedisBackend
from conveyor.job import JobRecord, JobState
from live_services import RedisServer

# the script calls themselves (the commands they run are counted under their own names),
# and what clients send to connect or to look
NOT_COUNTED = frozenset({
    "info", "evalsha", "eval", "script|load", "script|exists", "ping", "hello", "select",
    "client|setinfo", "auth",
})  # fmt: skip


@dataclasses.dataclass
class Commands:
    """The commands Redis ran inside a `counted()` block, by name."""

    calls: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def _stats(server: RedisServer) -> dict[str, int]:
    with server.client() as client:
        info = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in info.items()}


@contextlib.contextmanager
def counted(server: RedisServer) -> Iterator[Commands]:
    """Count the commands the server runs in the block (scripts' own commands included)."""
    seen = Commands()
    before = _stats(server)
    yield seen
    for name, calls in _stats(server).items():
        ran = calls - before.get(name, 0)
        if ran and name not in NOT_COUNTED:
            seen.calls[name] = ran


def job(queue: str = "default", task: str = "tasks.work", **fields: object) -> JobRecord:
    return JobRecord(
        id=f"j-{secrets.token_hex(8)}", task=task, queue=queue, payload=b"[]",
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip


async def finish(
    backend: RedisBackend, jobs: list[JobRecord], state: JobState = JobState.SUCCEEDED
) -> None:
    """Enqueue `jobs`, claim them all and end them in `state`, in one batch each."""
    await backend.enqueue(jobs)
    queues = list(dict.fromkeys(j.queue for j in jobs))
    claimed = await backend.claim(queues, len(jobs), "worker-1", 60.0)
    assert len(claimed) == len(jobs)
    acks = [
        Ack(Lease(r.id, r.lease_token or ""), state, task=r.task, queue=r.queue) for r in claimed
    ]
    assert all(await backend.ack(acks))
