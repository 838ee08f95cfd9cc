"""The deadlines of a store's calls to its server, kept by one timer per event loop.

`asyncio.timeout` arms a timer for each call and disarms it after: on a single enqueue to
Redis that was a tenth of the client's time. Here a call only notes its task and deadline,
and a timer that runs while calls are in flight, four times per timeout (at least once a
second), cancels the calls past theirs. Such a call raises TimeoutError, as it would under
`asyncio.timeout`, up to a quarter of the timeout late.
"""

from __future__ import annotations

import asyncio
import threading
import types
import weakref


class Deadlines:
    """`with deadlines.bound(): await call()`: TimeoutError once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.check_every = min(1.0, seconds / 4)
        self._lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _InFlight] = (
            weakref.WeakKeyDictionary()
        )

    def bound(self) -> Deadline:
        return Deadline(self)

    def in_flight(self, loop: asyncio.AbstractEventLoop) -> _InFlight:
        calls = self._loops.get(loop)
        if calls is None:
            with self._lock:
                calls = self._loops.setdefault(loop, _InFlight(loop, self.check_every))
        return calls


class _InFlight:
    """The calls of one event loop, by task, with their deadlines (loop time)."""

    __slots__ = ("calls", "check_every", "expired", "loop", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, check_every: float) -> None:
        self.loop = loop
        self.check_every = check_every
        self.calls: dict[asyncio.Task[object], float] = {}
        self.expired: set[asyncio.Task[object]] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, task: asyncio.Task[object], deadline: float) -> None:
        self.calls[task] = deadline
        if self.timer is None:
            self.timer = self.loop.call_at(self.loop.time() + self.check_every, self.check)

    def check(self) -> None:
        now = self.loop.time()
        for task, deadline in self.calls.items():
            if deadline <= now and task not in self.expired:
                self.expired.add(task)
                task.cancel()
        self.timer = None
        if self.calls:
            self.timer = self.loop.call_at(now + self.check_every, self.check)


class Deadline:
    """One call's deadline. A call inside another of the same task keeps the outer one."""

    __slots__ = ("_cancelling", "_deadlines", "_in_flight", "_task")

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines
        self._in_flight: _InFlight | None = None

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a store call's deadline needs a running task")
        in_flight = self._deadlines.in_flight(task.get_loop())
        if task in in_flight.calls:
            return
        self._task = task
        self._cancelling = task.cancelling()
        self._in_flight = in_flight
        in_flight.add(task, in_flight.loop.time() + self._deadlines.seconds)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        in_flight = self._in_flight
        if in_flight is None:
            return
        task = self._task
        del in_flight.calls[task]
        if task not in in_flight.expired:
            return
        in_flight.expired.discard(task)
        # as asyncio.timeout does: ours was the only cancellation, so it is a timeout
        if task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
