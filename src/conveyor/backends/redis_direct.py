"""Scripts called on connections of the store's own, beside redis-py's pool.

A call through redis-py's client passes its layers: a lock around the pool, events, two
observability counters on taking a connection and two on giving it back, a retry wrapper, a
look for unread data on the connection. On a script of one round trip they cost as much as
the round trip (on a 2-core machine, 90 µs of CPU a call through the client, 50 µs straight on
a connection). The scripts are what every enqueue, claim and ack sends, so the store keeps
idle connections of its own, made by the pool with the pool's settings (address, TLS,
password, database), and sends a script straight on one.

Nothing else is taken over. A call that fails for want of the connection, or finds its script
not loaded, says so (`Unsent`) and the caller sends it again through the client, whose retry
and script loading do the rest. A connection is given back only after a full reply: one a call
left mid-reply (cut off, cancelled) is closed, so no reply is read by the wrong call.

The store makes a connection for each call in flight beyond those idle, and keeps it for the
next, as redis-py's pool did before version 8 bounded it at 100 by default (past which a call
is refused, not queued). A URL that sets `max_connections` turns all this off (see
RedisBackend): every call then goes through the pool it bounds, and waits for a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import AbstractConnection


class Unsent(Exception):
    """The script may not have run: send it through the client instead. A script whose
    connection failed after sending may have run; every script is safe to run again (see
    redis_lua), as it is when redis-py's own retry sends it again."""


class DirectScripts:
    """Idle connections of one event loop, each made by `client`'s pool."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._pool = client.connection_pool
        self._idle: list[AbstractConnection] = []

    async def evalsha(self, sha: str, key: str, args: Sequence[Any]) -> Any:
        connection = self._idle.pop() if self._idle else self._new()
        try:
            # hiredis packs the command in C (redis-py's async connection packs in Python)
            packed = hiredis.pack_command(("EVALSHA", sha, 1, key, *args))
            await connection.send_packed_command(packed)
            reply = await connection.read_response()
        except redis.exceptions.NoScriptError as exc:
            self._idle.append(connection)  # the reply was read whole
            raise Unsent from exc
        except redis.exceptions.ResponseError:
            self._idle.append(connection)
            raise
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            await self._drop(connection)
            raise Unsent from exc
        except BaseException:
            await self._drop(connection)
            raise
        self._idle.append(connection)
        return reply

    def _new(self) -> AbstractConnection:
        made: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        return made

    async def _drop(self, connection: AbstractConnection) -> None:
        """Closed, and not kept: what it was in the middle of is unknown."""
        await connection.disconnect(nowait=True)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()
