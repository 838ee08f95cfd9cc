"""Soft timeouts: a task is told it is running out of time, before its hard timeout stops it.

An async task gets `SoftTimeout` raised at the `await` it is suspended on; a process task
gets it raised in the child's main thread (by a SIGALRM timer there); a thread task cannot
be interrupted, so it reads `ctx.soft_timeout_expired`. The soft timeout travels with the
job in a header, set at enqueue only when there is one: a job without it costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Generator, Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from conveyor.errors import ConfigurationError, SoftTimeout

if TYPE_CHECKING:
    from conveyor.context import Context

T = TypeVar("T")

SOFT_TIMEOUT_HEADER = "soft_timeout"  # seconds, as the job's headers carry text
SOFT_TIMEOUT_TYPE = f"{SoftTimeout.__module__}.{SoftTimeout.__qualname__}"


def check_soft_timeout(soft: object, timeout: float | None, where: str) -> None:
    """A soft timeout is a positive number of seconds, shorter than the hard one if any."""
    if soft is None:
        return
    if not isinstance(soft, int | float) or isinstance(soft, bool) or not 0 < soft < float("inf"):
        raise ConfigurationError(
            f"{where}: soft_timeout must be a positive number of seconds or None, got {soft!r}"
        )
    if timeout is not None and soft >= timeout:
        raise ConfigurationError(
            f"{where}: soft_timeout ({soft:g} s) must be shorter than timeout ({timeout:g} s)"
        )


def soft_timeout_of(headers: Mapping[str, str]) -> float | None:
    text = headers.get(SOFT_TIMEOUT_HEADER)
    return None if text is None else float(text)


def is_soft_timeout(type_name: str) -> bool:
    """Whether an exception that ended a task, by its full type name, is a SoftTimeout."""
    return type_name == SOFT_TIMEOUT_TYPE


async def with_soft_timeout(
    seconds: float, call: Coroutine[Any, Any, T], context: Context | None
) -> T:
    """Await `call`, raising SoftTimeout inside it after `seconds` (and setting
    `ctx.soft_timeout_expired`)."""
    task = asyncio.current_task()
    assert task is not None
    interruptible = _Interruptible(call, task, seconds, context)
    timer = asyncio.get_running_loop().call_later(seconds, interruptible.expire)
    try:
        return cast(T, await interruptible)
    finally:
        timer.cancel()


class _Interruptible:
    """Drives a coroutine as `await` would, and turns the one cancellation it asked for at
    the soft timeout into SoftTimeout thrown in at the coroutine's suspended `await`."""

    def __init__(
        self,
        call: Coroutine[Any, Any, Any],
        task: asyncio.Task[Any],
        seconds: float,
        context: Context | None,
    ) -> None:
        self._call = call
        self._task = task
        self._seconds = seconds
        self._context = context
        self._expired = False

    def expire(self) -> None:
        if self._context is not None:
            self._context._expire_soft_timeout()
        self._expired = True
        self._task.cancel()  # wakes the task at its await; __await__ swaps the error

    def __await__(self) -> Generator[Any, Any, Any]:
        call = self._call
        sent: Any = None
        error: BaseException | None = None
        while True:
            try:
                waiting = call.send(sent) if error is None else call.throw(error)
            except StopIteration as done:
                return done.value
            sent, error = None, None
            try:
                sent = yield waiting
            except asyncio.CancelledError as cancelled:
                error = cancelled
                if self._expired:
                    self._expired = False
                    # another cancellation (a cancel request, shutdown) wins over ours
                    if self._task.uncancel() == 0:
                        error = SoftTimeout(self._seconds)
            except BaseException as other:
                error = other


@contextlib.contextmanager
def alarm(seconds: float | None, context: Context | None) -> Iterator[None]:
    """In a process task's child (main thread): raise SoftTimeout after `seconds`, and
    set `ctx.soft_timeout_expired`."""
    if seconds is None:
        yield
        return

    def ring(signum: int, frame: FrameType | None) -> None:
        if context is not None:
            context._expire_soft_timeout()
        raise SoftTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
