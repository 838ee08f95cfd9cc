"""`redis://` and `rediss://`: the distributed engine, on redis-py's asyncio client.

Every state change is one Lua script (one round trip, atomic); claims and acknowledgements
are batched by the worker, so a busy worker needs far fewer round trips than jobs. The key
layout is documented in `redis_lua`. Idle workers wait on a channel that enqueues publish
to, and `result()` waits on the job's own channel: nothing polls Redis in a loop.

redis-py clients belong to the event loop that made them; this backend keeps one client
per loop, so the sync portal and an app's own loop can share one backend object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, cast

from conveyor.backends import redis_lua
from conveyor.backends.base import (
    Ack,
    Backend,
    Capabilities,
    Enqueued,
    JobFilter,
    JobWatch,
    Lease,
    LeaseStatus,
    QueueBacklog,
    Recovered,
    RunningUpdate,
    new_record,
    worker_lost_error,
)
from conveyor.errors import BackendUnavailable, ConfigurationError
from conveyor.job import JobError, JobRecord, JobState, UniqueUntil
from conveyor.redact import redacted_url

try:
    import redis.asyncio as aioredis
    import redis.exceptions
    from redis.asyncio.client import PubSub
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.commands.core import AsyncScript
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ConfigurationError(
        "the Redis backend needs redis-py: pip install 'conveyor[redis]'"
    ) from exc

SCRIPTS = {
    name: getattr(redis_lua, name)
    for name in (
        "ENQUEUE", "CLAIM", "EXTEND", "ACK", "UPDATE_RUNNING", "RECOVER", "CANCEL",
        "RETRY", "GET", "GET_MANY", "COUNTS", "BACKLOG", "PURGE", "PURGE_EXPIRED", "PENDING",
    )
}  # fmt: skip
logger = logging.getLogger("conveyor.redis")
LIST_CHUNK = 200
MAINTENANCE_BATCH = 1000  # jobs one maintenance script touches, so none blocks Redis long
CONFIRM_TIMEOUT = 10.0  # seconds Redis gets to confirm a subscription
SOCKET_TIMEOUT = 30.0  # seconds a command may wait for its answer (?socket_timeout=)
CONNECT_TIMEOUT = 10.0  # seconds a connection may take (?socket_connect_timeout=)


class RedisBackend(Backend):
    capabilities: ClassVar[Capabilities] = Capabilities(
        shared_across_processes=True, durable=True, pushes_new_work=True, limits=True
    )

    def __init__(self, url: str) -> None:
        super().__init__()
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("redis", "rediss", "unix"):
            raise ConfigurationError(
                f"bad Redis URL {redacted_url(url)!r}: use redis://host:port/db"
            )
        self.url = url
        self.where = redacted_url(url)  # the URL as messages and logs show it
        # `?prefix=` is conveyor's own: several apps (or test runs) share one database
        query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        prefixes = [value for key, value in query if key == "prefix"]
        self.prefix = prefixes[-1] if prefixes else redis_lua.DEFAULT_PREFIX
        if not redis_lua.PREFIX_PATTERN.fullmatch(self.prefix):
            raise ConfigurationError(
                f"bad Redis URL {self.where!r}: prefix must be 1 to 64 letters, digits, "
                f"'.', '_' or '-', got {self.prefix!r}"
            )
        rest = urllib.parse.urlencode([(key, value) for key, value in query if key != "prefix"])
        self._client_url = urllib.parse.urlunsplit(parsed._replace(query=rest))
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._scripts: dict[str, AsyncScript] = {}
        self._opened: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        # connections on which idle workers wait for work, kept between waits (per loop)
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[PubSub]] = (
            weakref.WeakKeyDictionary()
        )

    # -- connections ----------------------------------------------------------------------

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                try:
                    client = aioredis.Redis.from_url(
                        self._client_url,
                        health_check_interval=30,
                        socket_keepalive=True,
                        # a command with no answer fails instead of hanging on a connection
                        # a network cut silently (the URL's own values win)
                        socket_timeout=SOCKET_TIMEOUT,
                        socket_connect_timeout=CONNECT_TIMEOUT,
                        # a pooled connection that died with a Redis restart is replaced,
                        # not reported; every script is safe to run again (see redis_lua)
                        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.5), 3),
                        retry_on_error=[redis.exceptions.ConnectionError],
                    )
                except ValueError as exc:
                    raise ConfigurationError(f"bad Redis URL {self.where!r}: {exc}") from None
                self._clients[loop] = client
                if not self._scripts:
                    self._scripts = {
                        name: client.register_script(source) for name, source in SCRIPTS.items()
                    }
            return client

    async def _run(self, name: str, args: Sequence[Any]) -> Any:
        client = self._client()
        wire = [_wire(a) if isinstance(a, str) else a for a in args]
        try:
            return await self._scripts[name](keys=[self.prefix], args=wire, client=client)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise BackendUnavailable(f"cannot reach Redis at {self.where}: {exc}") from exc

    async def open(self) -> None:
        # every enqueue passes here: a loop whose client answered once is open
        loop = asyncio.get_running_loop()
        if loop in self._opened:
            return
        client = self._client()
        try:
            await client.ping()
            self._opened.add(loop)
            if self.url in _checked_servers:
                return
            persistence = await client.info("persistence")
            memory = await client.info("memory")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise BackendUnavailable(f"cannot reach Redis at {self.where}: {exc}") from exc
        _checked_servers.add(self.url)
        _warn_about_settings(self.where, persistence, memory)

    async def close(self) -> None:
        self._opened.discard(asyncio.get_running_loop())
        for pubsub in self._idle.pop(asyncio.get_running_loop(), []):
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    # -- primitives -------------------------------------------------------------------------

    async def _enqueue(self, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        reply = await self._run("ENQUEUE", [_json(_fields(job)) for job in jobs])
        now = float(reply[0])
        return [
            Enqueued(new_record(job, now), created=True)
            if isinstance(existing, int)
            else Enqueued(_record(existing), created=False)
            for job, existing in zip(jobs, reply[1:], strict=True)
        ]

    async def _claim(
        self, queues: Sequence[str], limit: int, worker: str, lease_seconds: float
    ) -> list[JobRecord]:
        token = secrets.token_hex(8)
        wanted = list(dict.fromkeys(queues))
        reply = await self._run("CLAIM", [token, lease_seconds, worker, limit, *wanted])
        return [_record(raw) for raw in reply]

    async def _extend(
        self, leases: Sequence[Lease], lease_seconds: float
    ) -> dict[str, LeaseStatus]:
        args: list[Any] = [lease_seconds]
        for lease in leases:
            args += [lease.job_id, lease.token]
        reply = await self._run("EXTEND", args)
        return {
            lease.job_id: LeaseStatus(held=code > 0, cancel_requested=code == 2)
            for lease, code in zip(leases, reply, strict=True)
        }

    async def _ack(self, acks: Sequence[Ack]) -> list[bool]:
        args = [_json(_ack_fields(ack)) for ack in acks]
        return [bool(ok) for ok in await self._run("ACK", args)]

    async def _update_running(self, updates: Sequence[RunningUpdate]) -> list[bool]:
        args: list[Any] = []
        for u in updates:
            progress = "" if u.progress is None else repr(u.progress)
            message = (u.message or "") if u.progress is not None else ""
            has_checkpoint = "1" if u.checkpoint is not None else "0"
            args += [
                u.lease.job_id, u.lease.token, progress, message, u.checkpoint or b"",
                has_checkpoint,
            ]  # fmt: skip
        return [bool(ok) for ok in await self._run("UPDATE_RUNNING", args)]

    async def _recover_expired(self, max_recoveries: int) -> Recovered:
        error = json.dumps(worker_lost_error(max_recoveries).to_dict())
        total = Recovered(0, 0, 0)
        more = True
        while more:
            requeued, dead, cancelled, more = await self._run(
                "RECOVER", [max_recoveries, error, MAINTENANCE_BATCH]
            )
            total = Recovered(
                total.requeued + int(requeued), total.dead + int(dead),
                total.cancelled + int(cancelled),
            )  # fmt: skip
        return total

    async def _cancel(self, job_id: str) -> JobRecord | None:
        reply = await self._run("CANCEL", [job_id])
        return None if reply is None else _record(reply)

    async def _retry(self, job_id: str) -> JobRecord | None:
        reply = await self._run("RETRY", [job_id])
        return None if reply is None else _record(reply)

    async def _get(self, job_id: str) -> JobRecord | None:
        reply = await self._run("GET", [job_id])
        return None if reply is None else _record(reply)

    async def _list(self, query: JobFilter) -> list[JobRecord]:
        queues = [query.queue] if query.queue is not None else await self._queues()
        for queue in queues:
            await self._purge_expired_of(queue)
        matched: list[JobRecord] = []
        skip = query.offset
        if query.limit == 0:
            return matched
        async for record in self._newest_first(queues):
            if not _matches(record, query):
                continue
            if skip:
                skip -= 1
                continue
            matched.append(record)
            if len(matched) == query.limit:
                break
        return matched

    async def _newest_first(self, queues: Sequence[str]) -> AsyncIterator[JobRecord]:
        """Every live job of `queues`, newest first: each queue's `all` index walked from
        the top and merged, the records fetched a chunk at a time."""
        client = self._client()
        cursors = dict.fromkeys(queues, 0)
        heads: dict[str, list[tuple[bytes, float]]] = {}
        chunk: list[str] = []
        while True:
            for queue in list(cursors):
                if not heads.get(queue):
                    start = cursors[queue]
                    head = cast(
                        list[tuple[bytes, float]],
                        await client.zrevrange(
                            f"{self.prefix}:{{{queue}}}:all", start, start + LIST_CHUNK - 1,
                            withscores=True,
                        ),
                    )  # fmt: skip
                    cursors[queue] = start + len(head)
                    heads[queue] = head
                    if not head:
                        del cursors[queue]
            waiting = [q for q in heads if heads[q]]
            if waiting:
                queue = max(waiting, key=lambda q: heads[q][0][1])
                chunk.append(heads[queue].pop(0)[0].decode("utf-8", "surrogateescape"))
            if chunk and (len(chunk) == LIST_CHUNK or not waiting):
                for raw in await self._run("GET_MANY", chunk):
                    if raw is not None:
                        yield _record(raw)
                chunk = []
            if not waiting:
                return

    async def _counts(self) -> dict[str, dict[JobState, int]]:
        counts: dict[str, dict[JobState, int]] = {}
        for queue in await self._queues():
            await self._purge_expired_of(queue)
            ready, due, scheduled, active, succeeded, failed, cancelled = await self._run(
                "COUNTS", [queue]
            )
            per_state = {
                JobState.QUEUED: int(ready) + int(due),
                JobState.SCHEDULED: int(scheduled),
                JobState.ACTIVE: int(active),
                JobState.SUCCEEDED: int(succeeded),
                JobState.FAILED: int(failed),
                JobState.CANCELLED: int(cancelled),
            }
            kept = {state: n for state, n in per_state.items() if n}
            if kept:
                counts[queue] = kept
        return counts

    async def _backlog(self) -> dict[str, QueueBacklog]:
        backlogs: dict[str, QueueBacklog] = {}
        for queue in await self._queues():
            ready, due, scheduled, active, failed, age = await self._run("BACKLOG", [queue])
            backlogs[queue] = QueueBacklog(
                scheduled=int(scheduled),
                queued=int(ready) + int(due),
                active=int(active),
                failed=int(failed),
                oldest_age=float(age) if age else 0.0,
            )
        return backlogs

    async def _purge(
        self, states: frozenset[JobState], older_than: float | None, queue: str | None
    ) -> int:
        cutoff = "" if older_than is None else repr(await self._now() - older_than)
        queues = [queue] if queue is not None else await self._queues()
        total = 0
        for name in queues:
            args = [name, cutoff, MAINTENANCE_BATCH, *(s.value for s in states)]
            while (purged := int(await self._run("PURGE", args))) > 0:
                total += purged
                if purged < MAINTENANCE_BATCH:
                    break
        return total

    async def _purge_expired(self) -> int:
        return sum([await self._purge_expired_of(queue) for queue in await self._queues()])

    async def _purge_expired_of(self, queue: str) -> int:
        total = 0
        while True:
            purged = int(await self._run("PURGE_EXPIRED", [queue, MAINTENANCE_BATCH]))
            total += purged
            if purged < MAINTENANCE_BATCH:
                return total

    async def _now(self) -> float:
        seconds, micros = await self._client().time()
        return float(seconds) + float(micros) / 1e6

    async def _queues(self) -> list[str]:
        members = await self._client().smembers(f"{self.prefix}:queues")
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    # -- waiting without polling --------------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        # one connection per waiter, kept for the next wait; a fresh one only when none is free
        pubsub = idle.pop() if idle else self._client().pubsub()
        channels = [_wire(f"{self.prefix}:{{{q}}}:work") for q in queues]
        try:
            await pubsub.subscribe(*channels)
            # subscribed first, then looked: a job enqueued in between is not missed
            await _confirmed(pubsub, len(channels))
            has_due, next_due = await self._run("PENDING", list(queues))
            if not has_due:
                if next_due:
                    timeout = min(timeout, float(next_due))
                deadline = time.monotonic() + timeout
                while (remaining := deadline - time.monotonic()) > 0:
                    message = await pubsub.get_message(timeout=remaining)
                    if message is not None and message["type"] == "message":
                        break
            # what it receives after this is read and dropped at its next wait
            await pubsub.unsubscribe()
        except (redis.exceptions.ConnectionError, TimeoutError) as exc:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise BackendUnavailable(f"cannot reach Redis at {self.where}: {exc}") from exc
        idle.append(pubsub)

    @contextlib.asynccontextmanager
    async def watch_job(self, job_id: str, poll: float | None = None) -> AsyncIterator[JobWatch]:
        pubsub = self._client().pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(_wire(f"{self.prefix}:job:{job_id}"))
            yield _ChannelWatch(pubsub)
        except redis.exceptions.ConnectionError as exc:
            raise BackendUnavailable(f"cannot reach Redis at {self.where}: {exc}") from exc
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _confirmed(pubsub: PubSub, channels: int) -> None:
    """Read up to Redis's confirmation of `channels` subscriptions; older messages are
    wake-ups that arrived while nobody waited, and the looks that follow cover them."""
    async with asyncio.timeout(CONFIRM_TIMEOUT):
        while channels:
            message = await pubsub.get_message(timeout=CONFIRM_TIMEOUT)
            if message is not None and message["type"] == "subscribe":
                channels -= 1


class _ChannelWatch:
    """Waits on the job's channel, which every script that changes the job publishes to."""

    # a look now and then covers a message lost to a reconnect
    LOOK_AGAIN = 5.0

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def changed(self, timeout: float | None = None) -> None:
        wait = self.LOOK_AGAIN if timeout is None else min(self.LOOK_AGAIN, timeout)
        if await self._pubsub.get_message(timeout=wait) is not None:
            # several changes may be waiting: one look at the job covers them all
            while await self._pubsub.get_message(timeout=0) is not None:
                pass


def _fields(job: JobRecord) -> list[str]:
    """A job as the ENQUEUE script reads it: strings, so numbers keep every digit."""
    return [
        job.queue, job.id, job.task, str(job.priority), _text(job.payload),
        json.dumps(job.headers) if job.headers else "", str(job.max_attempts),
        "" if job.timeout is None else repr(job.timeout),
        "" if job.result_ttl is None else repr(job.result_ttl), repr(job.delay),
        job.unique_key or "", job.unique_until or "",
        "" if job.unique_for is None else repr(job.unique_for), job.limit_key or "",
        "" if job.limit is None else str(job.limit), job.rate_key or "",
        "" if job.rate_limit is None else str(job.rate_limit),
        "" if job.rate_period is None else repr(job.rate_period),
    ]  # fmt: skip


def _ack_fields(ack: Ack) -> list[Any]:
    """An acknowledgement as the ACK script reads it; follow-ups nest as job arrays."""
    return [
        ack.lease.job_id, ack.lease.token, ack.state.value, _text(ack.result),
        _error(ack.error), repr(ack.retry_in), [_fields(job) for job in ack.follow_ups],
    ]  # fmt: skip


def _wire(text: str) -> bytes:
    """A string as Redis gets it: surrogates from undecodable bytes (file names, say) go
    back to those bytes; any other lone surrogate is written as an escape."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


_checked_servers: set[str] = set()


def _warn_about_settings(url: str, persistence: dict[str, Any], memory: dict[str, Any]) -> None:
    """Say once per server when its settings break the promise that jobs are not lost."""
    if not int(persistence.get("aof_enabled", 0)):
        logger.warning(
            "Redis at %s keeps no append-only file: jobs enqueued since its last snapshot are "
            "lost if it restarts. Set appendonly yes (appendfsync everysec or always)", url
        )  # fmt: skip
    policy = str(memory.get("maxmemory_policy", "noeviction"))
    if policy.startswith("allkeys"):
        logger.warning(
            "Redis at %s evicts keys when full (maxmemory-policy %s): it may drop jobs. "
            "Set maxmemory-policy noeviction", url, policy,
        )  # fmt: skip


# Payloads, results and checkpoints are bytes; they cross JSON as text whose undecodable
# bytes are carried as surrogates (and sent back to bytes as they were), so any bytes survive.
def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "surrogateescape")


def _bytes(value: str | None) -> bytes | None:
    return value.encode("utf-8", "surrogateescape") if value else None


def _json(value: list[Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogateescape")


def _error(error: JobError | None) -> str:
    return "" if error is None else json.dumps(error.to_dict())


def _matches(record: JobRecord, query: JobFilter) -> bool:
    return (query.state is None or record.state is query.state) and (
        query.task is None or record.task == query.task
    )


def _number(value: str | None) -> float | None:
    return float(value) if value else None


def _record(raw: bytes) -> JobRecord:
    """A record as the scripts return it: one JSON object of strings, plus the server time."""
    f: dict[str, str] = json.loads(raw.decode("utf-8", "surrogateescape"))
    state = JobState(f["state"])
    due_at = float(f["due_at"])
    if state is JobState.SCHEDULED and due_at <= float(f["_now"]):
        state = JobState.QUEUED  # as readers see it: its time has come
    error = f.get("error")
    headers = f.get("headers")
    return JobRecord(
        id=f["id"], task=f["task"], queue=f["queue"], payload=_bytes(f["payload"]) or b"",
        priority=int(f["priority"]), state=state,
        headers=json.loads(headers) if headers else {}, attempts=int(f["attempts"]),
        max_attempts=int(f["max_attempts"]), recoveries=int(f["recoveries"]),
        timeout=_number(f.get("timeout")), result_ttl=_number(f.get("result_ttl")),
        enqueued_at=float(f["enqueued_at"]), due_at=due_at,
        started_at=_number(f.get("started_at")), finished_at=_number(f.get("finished_at")),
        lease_token=f.get("lease_token") or None,
        lease_expires_at=_number(f.get("lease_expires_at")), worker=f.get("worker") or None,
        result=_bytes(f.get("result")),
        error=JobError.from_dict(json.loads(error)) if error else None,
        progress=_number(f.get("progress")),
        progress_message=f.get("progress_message") or None,
        checkpoint=_bytes(f.get("checkpoint")), cancel_requested=f.get("cancel_requested") == "1",
        expires_at=_number(f.get("expires_at")), unique_key=f.get("unique_key") or None,
        unique_until=UniqueUntil(f["unique_until"]) if f.get("unique_until") else None,
        unique_for=_number(f.get("unique_for")), limit_key=f.get("limit_key") or None,
        limit=int(f["limit"]) if f.get("limit") else None, rate_key=f.get("rate_key") or None,
        rate_limit=int(f["rate_limit"]) if f.get("rate_limit") else None,
        rate_period=_number(f.get("rate_period")),
    )  # fmt: skip
