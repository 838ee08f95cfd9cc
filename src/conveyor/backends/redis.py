"""`redis://` and `rediss://`: the distributed engine, on redis-py's asyncio client.

Every state change is one Lua script (one round trip, atomic); claims and acknowledgements
are batched by the worker, so a busy worker needs far fewer round trips than jobs. The key
layout is documented in `redis_lua`. An idle worker waits on a channel that enqueues
publish to, with an offer to take the next job: the enqueue that stores it leases it to the
worker and publishes it on the worker's own channel, so the job arrives with the wake-up.
`result()` waits on the job's own channel: nothing polls Redis in a loop.

redis-py clients belong to the event loop that made them; this backend keeps one client
per loop, so the sync portal and an app's own loop can share one backend object.

A server in cluster mode is found out when the store is first opened (`INFO cluster`), from
the URL of any one node. The store then lives in one hash slot: every key name starts with
`{prefix}`, so each script touches one slot, as Redis Cluster requires, and the scripts and
their promises are those of a single server. Stores with different prefixes land on
different slots, and so spread over the masters (see docs/redis-cluster.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar, cast

from conveyor.backends import redis_lua
from conveyor.backends.base import (
    OUTCOME_RETENTION,
    Ack,
    Backend,
    Capabilities,
    Enqueued,
    JobFilter,
    JobPage,
    JobWatch,
    Lease,
    LeaseStatus,
    OutcomeCount,
    QueueBacklog,
    Recovered,
    RunningUpdate,
    WorkerInfo,
    new_record,
    worker_lost_error,
)
from conveyor.backends.deadlines import Deadlines
from conveyor.backends.history import history_of, note_of
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

    from conveyor.backends.redis_direct import DirectScripts, Unsent  # needs hiredis
except ImportError as exc:
    raise ConfigurationError(
        f"the Redis backend needs redis-py and hiredis ({exc.name} is missing): "
        "pip install 'conveyor[redis]'"
    ) from exc

SCRIPTS = {
    name: getattr(redis_lua, name)
    for name in (
        "ENQUEUE", "CLAIM", "EXTEND", "ACK", "UPDATE_RUNNING", "RECOVER", "CANCEL",
        "RETRY", "GET", "COUNTS", "BACKLOG", "PURGE", "PURGE_EXPIRED", "DELETE", "OFFER",
        "PAGE", "PAUSE", "REGISTER_WORKER", "WORKERS",
    )
}  # fmt: skip
logger = logging.getLogger("conveyor.redis")
# What one listing script may spend, about 3 ms of Redis's time: 1 per job looked at, 2 more
# per record read to check a filter (see redis_lua.PAGE). A page runs at most PAGE_CALLS of
# them: one that filters by task, worker or id prefix comes back short, with a cursor to go
# on from, when its matches are rarer than 1 in 10,000 to 30,000 jobs.
PAGE_SCAN = 3000
PAGE_CALLS = 10
MAINTENANCE_BATCH = 1000  # jobs one maintenance script touches, so none blocks Redis long
CONFIRM_TIMEOUT = 10.0  # seconds Redis gets to confirm a subscription
# seconds an idle worker's offer outlives its wait: it is withdrawn when the wait ends, and
# one whose worker is gone is skipped (no one listens on its channel); this only sweeps it
OFFER_MARGIN = 60.0
# seconds a command may wait for its answer (?socket_timeout=), so a connection a network
# cut silently fails the call instead of hanging it. Kept by this backend around each call,
# not given to redis-py, whose own socket timeout starts a task for every command it sends
# (and, from redis-py 8 on, is 5 s unless it is told otherwise).
SOCKET_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0  # seconds a connection may take (?socket_connect_timeout=)
# what a cluster answers while a master of the store's slot is down or moving: the store
# cannot be reached for now, as when a single server restarts
_UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,
    TimeoutError,  # no answer within the socket timeout
)


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
        database = parsed.path.strip("/")
        if parsed.scheme != "unix" and database and not (database.isascii() and database.isdigit()):
            raise ConfigurationError(
                f"bad Redis URL {self.where!r}: the database after the port must be a number, "
                f"such as redis://host:6379/0, got {database!r}"
            )
        timeouts = [value for key, value in query if key == "socket_timeout"]
        self._timeout = _timeout(self.where, timeouts[-1]) if timeouts else SOCKET_TIMEOUT
        self._deadlines = Deadlines(self._timeout)
        rest = urllib.parse.urlencode(
            [(key, value) for key, value in query if key not in ("prefix", "socket_timeout")]
        )
        self._client_url = urllib.parse.urlunsplit(parsed._replace(query=rest))
        # a URL that bounds the pool has every call go through it (see redis_direct)
        self._bounded = any(key == "max_connections" for key, _ in query)
        self._database = database
        # whether the server is a cluster, known once the store is first opened; on a
        # cluster every key of the store shares the hash tag `{prefix}`, so one slot
        self.cluster: bool | None = None
        self.keyspace = self.prefix
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        # a single server's scripts go straight on connections of the store's own (per loop)
        self._direct: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DirectScripts] = (
            weakref.WeakKeyDictionary()
        )
        self._scripts: dict[str, AsyncScript] = {}
        self._opened: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        # connections on which idle workers wait for work, kept between waits (per loop)
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[PubSub]] = (
            weakref.WeakKeyDictionary()
        )
        # the unsubscribing of an idle connection that was handed a job, finished before
        # its next wait: the job starts without waiting for it
        self._leaving: dict[PubSub, asyncio.Future[Any]] = {}

    # -- connections ----------------------------------------------------------------------

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                try:
                    client = self._new_client()
                except ValueError as exc:
                    raise ConfigurationError(f"bad Redis URL {self.where!r}: {exc}") from None
                self._clients[loop] = client
                if not self.cluster and not self._bounded:
                    self._direct[loop] = DirectScripts(client)
                if not self._scripts:
                    self._scripts = {
                        name: client.register_script(source) for name, source in SCRIPTS.items()
                    }
            return client

    def _new_client(self) -> aioredis.Redis:
        options: dict[str, Any] = {
            "health_check_interval": 30,
            "socket_keepalive": True,
            "socket_connect_timeout": CONNECT_TIMEOUT,  # the URL's own value wins
            # kept here around each call instead (SOCKET_TIMEOUT); redis-py 8 sets 5 s
            "socket_timeout": None,
            # a pooled connection that died with a Redis restart is replaced, not reported;
            # every script is safe to run again (see redis_lua)
            "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.5), 3),
        }
        if not self.cluster:
            options["retry_on_error"] = [redis.exceptions.ConnectionError]
            if self._bounded:
                # a call past the URL's max_connections waits for a connection (up to the
                # socket timeout), where redis-py's plain pool would refuse it at once
                pool = aioredis.BlockingConnectionPool.from_url(
                    self._client_url, timeout=self._timeout, **options
                )
                return aioredis.Redis.from_pool(pool)
            return aioredis.Redis.from_url(self._client_url, **options)
        # the cluster client finds the other nodes from this one, and follows the slot
        # when a master is replaced; typed as the plain client, whose commands it shares
        cluster: Any = aioredis.RedisCluster.from_url(
            _without_database(self._client_url), **options
        )
        return cast(aioredis.Redis, cluster)

    async def _run(self, name: str, args: Sequence[Any]) -> Any:
        client = self._client()
        wire = [_wire(a) if isinstance(a, str) else a for a in args]
        script = self._scripts[name]
        direct = self._direct.get(asyncio.get_running_loop())
        try:  # what _calling does, written out: this is every enqueue's, claim's and ack's
            with self._deadlines.bound():
                if direct is not None:
                    try:
                        return await direct.evalsha(script.sha, self.keyspace, wire)
                    except Unsent:
                        pass
                return await script(keys=[self.keyspace], args=wire, client=client)
        except _UNREACHABLE as exc:
            raise self._unreachable(exc) from exc

    async def _run_each(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Scripts, each with its arguments, sent in one round trip; their replies."""
        client = self._client()
        if self.cluster:
            # a cluster's pipeline refuses scripts: they go out side by side instead
            return list(await asyncio.gather(*(self._run(name, args) for name, args in calls)))
        async with self._calling(), client.pipeline(transaction=False) as pipe:
            for name, args in calls:
                wire = [_wire(a) if isinstance(a, str) else a for a in args]
                await self._scripts[name](keys=[self.keyspace], args=wire, client=pipe)
            return await pipe.execute()

    async def _each_key(self, command: str, keys: Sequence[str]) -> list[Any]:
        """One read command per key, in one round trip."""
        client = self._client()
        async with self._calling(), client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.execute_command(command, _wire(key))
            return await pipe.execute()

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except _UNREACHABLE as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: BaseException) -> BackendUnavailable:
        why = str(exc) or f"no answer in {self._timeout:g} s"
        return BackendUnavailable(f"cannot reach Redis at {self.where}: {why}")

    @contextlib.asynccontextmanager
    async def _opening(self) -> AsyncIterator[None]:
        """Around the first calls to a server: what went wrong, in one line that says what
        to check."""
        try:
            with self._deadlines.bound():
                yield
        except redis.exceptions.RedisError as exc:
            raise _open_failure(self.where, exc) from exc
        except TimeoutError as exc:
            raise BackendUnavailable(
                f"cannot reach Redis at {self.where}: no answer in {self._timeout:g} s"
            ) from exc

    @contextlib.asynccontextmanager
    async def _calling(self) -> AsyncIterator[None]:
        """Around a call to Redis: no wait past the socket timeout, and its errors said as
        the store being out of reach."""
        with self._reaching(), self._deadlines.bound():
            yield

    async def open(self) -> None:
        # every enqueue passes here: a loop whose client answered once is open
        loop = asyncio.get_running_loop()
        if loop in self._opened:
            return
        if self.cluster is None:
            await self._find_out_cluster()
        client = self._client()
        async with self._opening():
            await client.ping()
            self._opened.add(loop)
            if self.url in _checked_servers or self.only_looking:
                return
            persistence = await client.info("persistence")
            memory = await client.info("memory")
        _checked_servers.add(self.url)
        _warn_about_settings(self.where, persistence, memory)

    async def _find_out_cluster(self) -> None:
        """Ask the URL's server whether it is a node of a cluster, once per store object
        (not once per URL: another server may come to answer on the same port)."""
        # database 0: a cluster node refuses to select any other
        probe = aioredis.Redis.from_url(
            _without_database(self._client_url),
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=None,  # _opening keeps the URL's
        )
        try:
            async with self._opening():
                info = await probe.info("cluster")
        finally:
            await probe.aclose()
        cluster = bool(info.get("cluster_enabled"))
        if cluster and self._database not in ("", "0"):
            raise ConfigurationError(
                f"bad Redis URL {self.where!r}: a Redis Cluster has only database 0, "
                f"drop /{self._database} from the URL (use ?prefix= to keep stores apart)"
            )
        with self._lock:
            if self.cluster is None:  # another loop of this object may have found out first
                self.cluster = cluster
                self.keyspace = f"{{{self.prefix}}}" if cluster else self.prefix
                self._clients = weakref.WeakKeyDictionary()  # made before it was known
                self._direct = weakref.WeakKeyDictionary()

    async def close(self) -> None:
        self._opened.discard(asyncio.get_running_loop())
        for pubsub in self._idle.pop(asyncio.get_running_loop(), []):
            leaving = self._leaving.pop(pubsub, None)
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                if leaving is not None:
                    await leaving
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
            direct = self._direct.pop(loop, None)
        if direct is not None:
            await direct.aclose()
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
        self,
        queues: list[str],
        limit: int,
        worker: str,
        lease_seconds: float,
        weights: Mapping[str, int],
    ) -> list[JobRecord]:
        token = secrets.token_hex(8)
        args: list[Any] = [token, lease_seconds, worker, limit]
        for queue in queues:
            args += [queue, weights.get(queue, 1)]
        reply = await self._run("CLAIM", args)
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

    async def _page(self, query: JobFilter) -> JobPage:
        top = "" if query.cursor is None else str(self._place(query.cursor))
        if query.limit == 0:
            return JobPage([], None)
        queues = [query.queue] if query.queue is not None else await self._queues()
        filters = [
            "" if query.state is None else query.state.value, query.task or "",
            query.id_prefix or "", query.worker or "",
            "" if query.since is None else repr(float(query.since)),
            "" if query.until is None else repr(float(query.until)),
        ]  # fmt: skip
        want = query.offset + query.limit
        found: list[JobRecord] = []
        for _ in range(PAGE_CALLS):
            place, *raws = await self._run(
                "PAGE", [top, want - len(found), PAGE_SCAN, *filters, *queues]
            )
            found += [_record(raw) for raw in raws]
            top = place.decode()
            if not top or len(found) >= want:
                break
        return JobPage(found[query.offset :], self._cursor(top) if top else None)

    def _cursor(self, place: str) -> str:
        """A cursor: the place in the listing order (every job of a lower enqueue sequence
        comes after it), with a check so a string no page gave is refused, not misread."""
        return f"{place}.{self._signature(place)}"

    def _place(self, cursor: str) -> int:
        place, _, signature = cursor.partition(".")
        if not (place.isascii() and place.isdigit() and len(place) <= 16) or (
            signature != self._signature(place)
        ):
            raise ValueError(f"{cursor!r} is not a cursor a page of this store gave")
        return int(place)

    def _signature(self, place: str) -> str:
        return hashlib.blake2s(f"{self.prefix}:{place}".encode(), digest_size=4).hexdigest()

    async def _counts(self) -> dict[str, dict[JobState, int]]:
        # per queue, its results past their TTL are dropped, then its indexes counted: all in
        # one round trip unless a queue holds more than a batch of them
        queues = await self._queues()
        calls = [
            call for queue in queues
            for call in (("PURGE_EXPIRED", [queue, MAINTENANCE_BATCH]), ("COUNTS", [queue]))
        ]  # fmt: skip
        replies = await self._run_each(calls)
        counts: dict[str, dict[JobState, int]] = {}
        for i, queue in enumerate(queues):
            purged, reply = replies[2 * i : 2 * i + 2]
            if int(purged) >= MAINTENANCE_BATCH:
                await self._purge_expired_of(queue)
                reply = await self._run("COUNTS", [queue])
            ready, due, scheduled, active, succeeded, failed, cancelled = reply
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
        queues = await self._queues()
        replies = await self._run_each([("BACKLOG", [queue]) for queue in queues])
        backlogs: dict[str, QueueBacklog] = {}
        for queue, (ready, due, scheduled, active, failed, age) in zip(
            queues, replies, strict=True
        ):
            backlogs[queue] = QueueBacklog(
                scheduled=int(scheduled),
                queued=int(ready) + int(due),
                active=int(active),
                failed=int(failed),
                oldest_age=float(age) if age else 0.0,
            )
        return backlogs

    # -- the fleet, paused queues, outcome counters ------------------------------------------

    async def _register_worker(self, worker: WorkerInfo, ttl: float) -> None:
        info = {
            "name": worker.name, "host": worker.host, "pid": worker.pid,
            "queues": list(worker.queues), "concurrency": worker.concurrency,
            "started_at": worker.started_at, "processed": worker.processed,
        }  # fmt: skip
        entry = json.dumps(info, ensure_ascii=False)
        await self._run("REGISTER_WORKER", [worker.name, entry, repr(float(ttl))])

    async def _deregister_worker(self, name: str) -> None:
        async with self._calling():
            await self._client().hdel(f"{self.keyspace}:workers", _wire(name))

    async def _workers(self) -> list[WorkerInfo]:
        return [_worker(raw) for raw in await self._run("WORKERS", [])]

    async def _set_paused(self, queue: str, paused: bool) -> None:
        await self._run("PAUSE", [queue, "1" if paused else "0"])

    async def _paused_queues(self) -> frozenset[str]:
        queues = await self._queues()
        flags = await self._each_key("EXISTS", [f"{self.keyspace}:{{{q}}}:paused" for q in queues])
        return frozenset(queue for queue, flag in zip(queues, flags, strict=True) if flag)

    async def _outcome_counts(self, since: float) -> list[OutcomeCount]:
        now = await self._now()
        start = max(since, now - OUTCOME_RETENTION)
        if start > now:
            return []
        # a queue's counters live in one hash per hour (see redis_lua)
        hours = range(int(start - start % 3600), int(now) + 1, 3600)
        keys = [(queue, hour) for queue in await self._queues() for hour in hours]
        replies = await self._each_key(
            "HGETALL", [f"{self.keyspace}:{{{queue}}}:outcomes:{hour}" for queue, hour in keys]
        )
        counts = []
        for (queue, _), fields in zip(keys, replies, strict=True):
            for field, count in _pairs(fields):
                minute, outcome, task = field.decode("utf-8", "surrogateescape").split(" ", 2)
                at = float(minute)
                if at >= since and at + 60 > now - OUTCOME_RETENTION:
                    counts.append(OutcomeCount(at, queue, task, outcome, int(count)))
        return counts

    async def _purge(
        self, states: frozenset[JobState], older_than: float | None, queue: str | None
    ) -> int:
        cutoff = "" if older_than is None else repr(await self._now() - older_than)
        queues = [queue] if queue is not None else await self._queues()
        total = 0
        for name in queues:
            for state in states:
                after = b""
                while True:
                    purged, after = await self._run(
                        "PURGE", [name, state.value, cutoff, MAINTENANCE_BATCH, after]
                    )
                    total += int(purged)
                    if not after:
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

    async def _delete(self, job_ids: Sequence[str]) -> int:
        # one script for the chunk: the ids hash says each job's queue
        return int(await self._run("DELETE", list(job_ids)))

    def _pubsub(self, **options: Any) -> PubSub:
        """A connection for waiting on channels: on a cluster, to the master of the store's
        slot, where the scripts count who listens (PUBSUB NUMSUB is a node's own count)."""
        client: Any = self._client()
        if not self.cluster:
            return cast(PubSub, client.pubsub(**options))
        with self._reaching():
            node = client.get_node_from_key(self.keyspace)
        return cast(PubSub, client.pubsub(node=node, **options))

    async def _now(self) -> float:
        client: Any = self._client()
        async with self._calling():
            if self.cluster:  # the clock the scripts read: that of the store's master
                node = client.get_node_from_key(self.keyspace)
                seconds, micros = await client.time(target_nodes=node)
            else:
                seconds, micros = await client.time()
        return float(seconds) + float(micros) / 1e6

    async def _queues(self) -> list[str]:
        async with self._calling():
            members = await self._client().smembers(f"{self.keyspace}:queues")
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    # -- waiting without polling --------------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        await self._wait_idle(queues, timeout, None)

    async def wait_for_jobs(
        self, queues: Sequence[str], timeout: float, worker: str, lease_seconds: float
    ) -> list[JobRecord]:
        # the enqueue that stores the next job leases it to this worker and publishes it on
        # the offer's channel: the job arrives with the wake-up, no claim after it
        return await self._wait_idle(queues, timeout, (worker, lease_seconds))

    async def _wait_idle(
        self, queues: Sequence[str], timeout: float, offer: tuple[str, float] | None
    ) -> list[JobRecord]:
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        # one connection per waiter, kept for the next wait; a fresh one only when none is free
        pubsub = idle.pop() if idle else self._pubsub()
        leaving = self._leaving.pop(pubsub, None)
        token = secrets.token_hex(8) if offer is not None else ""
        hand = _wire(f"{self.keyspace}:hand:{token}")
        channels = [_wire(f"{self.keyspace}:{{{q}}}:work") for q in queues]
        if offer is not None:
            channels.append(hand)
        worker, lease = offer or ("", 0.0)
        handed: list[JobRecord] = []
        offered = False  # while Redis may hold this wait's offer, from its script's sending
        try:
            with self._deadlines.bound():
                if leaving is not None:
                    await leaving
                await pubsub.subscribe(*channels)
            # subscribed first, then looked (and offered): a job enqueued in between is
            # not missed, and one handed over is heard
            await _confirmed(pubsub, len(channels))
            offered = offer is not None
            has_due, next_due = await self._run(
                "OFFER", [token, worker, lease, timeout + OFFER_MARGIN, *queues]
            )
            offered = offered and not has_due
            if not has_due:
                if next_due:
                    timeout = min(timeout, float(next_due))
                deadline = time.monotonic() + timeout
                while (remaining := deadline - time.monotonic()) > 0:
                    message = await pubsub.get_message(timeout=remaining)
                    if message is not None and message["type"] == "message":
                        if message["channel"] == hand:
                            handed.append(_record(message["data"]))
                        break
            if offered and not handed:
                handed = await self._withdraw(pubsub, token, queues)
            offered = False
            # what it receives after this is read and dropped at its next wait
            if handed:
                self._leaving[pubsub] = asyncio.ensure_future(_unsubscribe_later(pubsub))
            else:
                with self._deadlines.bound():
                    await pubsub.unsubscribe()
        except asyncio.CancelledError:
            # the worker stops: a job handed over meanwhile goes back to its queue unrun
            with contextlib.suppress(Exception):
                if offered and not handed:
                    handed = await self._withdraw(pubsub, token, queues)
                await self.ack(
                    [Ack(Lease(r.id, token), JobState.QUEUED, task=r.task, queue=r.queue)
                     for r in handed]
                )  # fmt: skip
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        except (redis.exceptions.ConnectionError, TimeoutError) as exc:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise BackendUnavailable(f"cannot reach Redis at {self.where}: {exc}") from exc
        idle.append(pubsub)
        return handed

    async def _withdraw(self, pubsub: PubSub, token: str, queues: Sequence[str]) -> list[JobRecord]:
        """Take back an offer no job was seen to take; if an enqueue took it all the same,
        the job it published before (on its way, or read already and waiting)."""
        async with self._calling(), self._client().pipeline(transaction=False) as pipe:
            pipe.delete(_wire(f"{self.keyspace}:offer:{token}"))
            for q in queues:
                pipe.zrem(_wire(f"{self.keyspace}:{{{q}}}:offers"), token)
            withdrawn, *_ = await pipe.execute()
        if withdrawn:
            return []
        # gone: an enqueue took it and published the job on this connection before that
        # DEL ran, or it lapsed, or an earlier withdrawal (cut short by a stop) deleted it.
        # What Redis sends this connection before its answer to a PING holds that job, if any
        hand = _wire(f"{self.keyspace}:hand:{token}")
        marker = _wire(f"withdrawn {token}")
        async with asyncio.timeout(CONFIRM_TIMEOUT):
            await pubsub.ping(marker)
            while True:
                message = await pubsub.get_message(timeout=CONFIRM_TIMEOUT)
                if message is None:
                    continue
                if message["type"] == "message" and message["channel"] == hand:
                    return [_record(message["data"])]
                if message["type"] == "pong" and message["data"] == marker:
                    return []

    @contextlib.asynccontextmanager
    async def watch_job(self, job_id: str, poll: float | None = None) -> AsyncIterator[JobWatch]:
        pubsub = self._pubsub(ignore_subscribe_messages=True)
        try:
            async with self._calling():
                await pubsub.subscribe(_wire(f"{self.keyspace}:job:{job_id}"))
            yield _ChannelWatch(pubsub)
        except redis.exceptions.ConnectionError as exc:
            raise BackendUnavailable(f"cannot reach Redis at {self.where}: {exc}") from exc
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _unsubscribe_later(pubsub: PubSub) -> None:
    await asyncio.sleep(0)  # after the job handed over has started
    await pubsub.unsubscribe()


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
        note_of(ack.error) or "",
    ]  # fmt: skip


def _timeout(where: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ConfigurationError(
            f"bad Redis URL {where!r}: socket_timeout must be a number of seconds above 0, "
            f"such as ?socket_timeout=30, got {text!r}"
        )
    return seconds


def _without_database(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return url if parsed.scheme == "unix" else urllib.parse.urlunsplit(parsed._replace(path=""))


def _wire(text: str) -> bytes:
    """A string as Redis gets it: surrogates from undecodable bytes (file names, say) go
    back to those bytes; any other lone surrogate is written as an escape."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


_checked_servers: set[str] = set()


def _open_failure(where: str, exc: redis.exceptions.RedisError) -> BackendUnavailable:
    """What went wrong when a store was first opened, in one line that says what to check."""
    if isinstance(exc, redis.exceptions.InvalidResponse):
        return BackendUnavailable(
            f"what answers at {where} does not speak Redis ({exc}): check the host and port"
        )
    if isinstance(exc, redis.exceptions.ResponseError):  # the server answered and refused
        hint = ""
        if "DB index" in str(exc):
            hint = " (a server has databases 0 to 15 unless its `databases` setting says more)"
        return BackendUnavailable(f"Redis at {where} refused the connection: {exc}{hint}")
    hint = ""
    if "closed by server" in str(exc):
        hint = " (is it Redis that listens on that port?)"
    return BackendUnavailable(f"cannot reach Redis at {where}: {exc}{hint}")


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


# made once (json.dumps makes an encoder on every call given any option); compact, so the
# scripts have fewer bytes to decode
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(value: list[Any]) -> bytes:
    """The strings of a job or an ack as one JSON array; surrogates from undecodable bytes
    (see _text) go back to those bytes."""
    # pydantic-core writes it in a third of the standard library's time. Imported here: an
    # idle worker has no other use for it yet (3.5 MB); a job's arguments, encoded or
    # decoded, load it anyway.
    import pydantic_core

    try:
        return pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:  # lone surrogates
        return _JSON.encode(value).encode("utf-8", "surrogateescape")


def _error(error: JobError | None) -> str:
    return "" if error is None else json.dumps(error.to_dict())


def _worker(raw: bytes) -> WorkerInfo:
    """A worker's entry: the time it was last seen, its expiry, then its own JSON."""
    seen, _, entry = raw.split(b" ", 2)
    f = json.loads(entry.decode("utf-8", "surrogateescape"))
    return WorkerInfo(
        name=f["name"], host=f["host"], pid=int(f["pid"]), queues=tuple(f["queues"]),
        concurrency=int(f["concurrency"]), started_at=float(f["started_at"]),
        processed=int(f["processed"]), last_seen=float(seen),
    )  # fmt: skip


def _pairs(reply: Any) -> list[tuple[bytes, bytes]]:
    """A hash as HGETALL answers it in a pipeline: a dict, or a flat list (RESP2 raw)."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2], strict=True))


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
        rate_period=_number(f.get("rate_period")), history=history_of(f.get("history")),
    )  # fmt: skip
