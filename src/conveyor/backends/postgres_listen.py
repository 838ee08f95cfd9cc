"""LISTEN on one channel and wake the coroutines waiting for what its payloads name.

A `Listener` owns one connection of its own (a pooled connection cannot keep a LISTEN),
started on first use and reconnected by itself with backoff. Notifications sent while it
was away are lost, so after every (re)connect it wakes every waiter: they look at the store
again. Waiters subscribe *before* they look at the store, so a change that commits in
between still wakes them.

A listener belongs to the event loop that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import psycopg
from psycopg import sql

logger = logging.getLogger("conveyor.postgres")

# after this long without a notification, prove the connection still answers: a network
# that drops packets silently would otherwise leave the listener deaf forever
HEALTH_CHECK = 10.0
RECONNECT_FIRST, RECONNECT_MAX = 0.05, 2.0


class Subscription:
    """What one waiter hears: any payload among `keys` (every payload when None)."""

    __slots__ = ("_event", "keys")

    def __init__(self, keys: frozenset[str] | None) -> None:
        self.keys = keys
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for a payload of ours (or a reconnect); False after `timeout` seconds."""
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True


class Listener:
    def __init__(self, conninfo: str, channel: str) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._by_key: dict[str, set[Subscription]] = {}
        self._everything: set[Subscription] = set()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, keys: Iterable[str] | None, ready_within: float
    ) -> AsyncIterator[Subscription]:
        """Hear `keys` until the block ends, once listening (or `ready_within` seconds passed).

        Check `listening` afterwards: a deaf listener (PostgreSQL away) wakes nobody, so
        its waiters must look at the store on their own, as often as they would poll.
        """
        subscription = Subscription(None if keys is None else frozenset(keys))
        self._add(subscription)
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name=f"listen {self._channel}")
            if not self._listening.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(ready_within):
                        await self._listening.wait()
            subscription._event.clear()  # wakes from the connect itself are not news
            yield subscription
        finally:
            self._remove(subscription)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listening.clear()

    # -- the connection ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = RECONNECT_FIRST
        while True:
            try:
                await self._listen()
            except psycopg.Error as exc:
                if self._listening.is_set():
                    logger.warning("lost the LISTEN connection (%s); reconnecting", exc)
            self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _listen(self) -> None:
        conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._listening.set()
            self._wake_all()  # whatever was sent while we were away is lost: look again
            while True:
                async for notify in conn.notifies(timeout=HEALTH_CHECK):
                    self._dispatch(notify.payload)
                await conn.execute("SELECT 1")
        finally:
            self._listening.clear()
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    # -- waiters ------------------------------------------------------------------------------

    def _add(self, subscription: Subscription) -> None:
        if subscription.keys is None:
            self._everything.add(subscription)
            return
        for key in subscription.keys:
            self._by_key.setdefault(key, set()).add(subscription)

    def _remove(self, subscription: Subscription) -> None:
        if subscription.keys is None:
            self._everything.discard(subscription)
            return
        for key in subscription.keys:
            waiting = self._by_key.get(key)
            if waiting is not None:
                waiting.discard(subscription)
                if not waiting:
                    del self._by_key[key]

    def _dispatch(self, payload: str) -> None:
        for subscription in self._by_key.get(payload, ()):
            subscription.wake()
        for subscription in self._everything:
            subscription.wake()

    def _wake_all(self) -> None:
        for waiting in self._by_key.values():
            for subscription in waiting:
                subscription.wake()
        for subscription in self._everything:
            subscription.wake()
