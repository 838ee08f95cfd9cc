"""What a running task can see and do: its identity, progress, checkpoint, cancellation,
time left."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import time
import types
from collections.abc import Generator
from typing import Any, ClassVar, Protocol, cast

from conveyor.serialization import ANY_VALUE

CORRELATION_HEADER = "correlation_id"


class Persisted:
    """The outcome of a progress or checkpoint write: await it, or `.wait()` in sync code.

    Progress is written in the background; nothing needs to wait unless it wants to know
    the write is durable (a checkpoint before a risky step, say).
    """

    __slots__ = ("_future",)

    def __init__(self, future: concurrent.futures.Future[None]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, None]:
        return asyncio.wrap_future(self._future).__await__()

    def wait(self, timeout: float | None = None) -> None:
        self._future.result(timeout)


class Reporter(Protocol):
    def report(
        self, progress: float | None, message: str | None, checkpoint: bytes | None
    ) -> concurrent.futures.Future[None]: ...


class _InlineReporter:
    """Direct calls of a task run inline: their progress goes nowhere."""

    def report(
        self, progress: float | None, message: str | None, checkpoint: bytes | None
    ) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_result(None)
        return future


class Context:
    """Injected into a task that has a parameter annotated `Context`."""

    INJECTED: ClassVar[Context]  # a parameter default: `ctx: Context = Context.INJECTED`

    def __init__(
        self,
        *,
        job_id: str,
        task_name: str,
        queue: str,
        attempt: int,
        max_attempts: int,
        headers: dict[str, str],
        checkpoint: bytes | None,
        reporter: Reporter,
        state: types.SimpleNamespace,
    ) -> None:
        self.job_id = job_id
        self.task_name = task_name
        self.queue = queue
        self.attempt = attempt  # 1 for the first run; more after a retry or a crash
        self.max_attempts = max_attempts
        self.headers = types.MappingProxyType(dict(headers))
        self.state = state  # what the worker's startup hooks put there (pools, clients)
        self._checkpoint = checkpoint
        self._reporter = reporter
        self._cancelled = False
        self._deadline: float | None = None  # time.monotonic() at the hard timeout
        self._soft_timeout_expired = False

    @property
    def correlation_id(self) -> str | None:
        return self.headers.get(CORRELATION_HEADER)

    @property
    def cancelled(self) -> bool:
        """True once someone asked to cancel this job; sync tasks should check it and stop."""
        return self._cancelled

    @property
    def soft_timeout_expired(self) -> bool:
        """True once the task ran past its soft timeout; a sync task in a thread should
        check it, clean up and stop (async and process tasks get SoftTimeout raised too)."""
        return self._soft_timeout_expired

    def time_left(self) -> float | None:
        """Seconds left before the hard timeout stops this attempt; None without one."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    @property
    def checkpoint(self) -> Any:
        """The last value saved with `save_checkpoint` by any attempt, or None."""
        return None if self._checkpoint is None else ANY_VALUE.decode(self._checkpoint)

    def progress(self, fraction: float, message: str | None = None) -> Persisted:
        """Report progress between 0.0 and 1.0, with an optional message."""
        if not isinstance(fraction, int | float) or math.isnan(fraction) or not 0 <= fraction <= 1:
            raise ValueError(f"progress must be a number between 0.0 and 1.0, got {fraction!r}")
        if message is not None:
            # any text stores: characters that are not UTF-8 (a file name's undecodable
            # bytes, say) are kept as escapes
            message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        return Persisted(self._reporter.report(float(fraction), message, None))

    def save_checkpoint(self, value: Any) -> Persisted:
        """Save JSON-encodable state that later attempts read back as `ctx.checkpoint`."""
        encoded = ANY_VALUE.encode(value)
        self._checkpoint = encoded
        return Persisted(self._reporter.report(None, None, encoded))

    def _mark_cancelled(self) -> None:
        self._cancelled = True

    def _start_clock(self, timeout: float | None) -> None:
        if timeout is not None:
            self._deadline = time.monotonic() + timeout

    def _expire_soft_timeout(self) -> None:
        self._soft_timeout_expired = True

    @classmethod
    def inline(cls, task_name: str) -> Context:
        return cls(
            job_id="inline",
            task_name=task_name,
            queue="inline",
            attempt=1,
            max_attempts=1,
            headers={},
            checkpoint=None,
            reporter=_InlineReporter(),
            state=types.SimpleNamespace(),
        )


class _Injected:
    def __repr__(self) -> str:
        return "Context.INJECTED"


Context.INJECTED = cast(Context, _Injected())
