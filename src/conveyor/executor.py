"""Running one task call: async on the loop, sync in a thread, both under a timeout."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from typing import Any

from conveyor.errors import TaskTimeout
from conveyor.task import Task
from conveyor.threads import DaemonThreadPool

logger = logging.getLogger("conveyor.worker")


class Executor:
    """Runs task functions; sync ones in a bounded thread pool so the loop never blocks."""

    def __init__(self, threads: int) -> None:
        self._threads = DaemonThreadPool(threads)
        self.abandoned = 0

    async def run(
        self,
        task: Task[Any, Any],
        args: list[Any],
        kwargs: dict[str, Any],
        timeout: float | None,
        job_id: str,
    ) -> Any:
        if task.is_async:
            if timeout is None:
                return await task.func(*args, **kwargs)
            try:
                async with asyncio.timeout(timeout) as scope:
                    return await task.func(*args, **kwargs)
            except TimeoutError:
                if scope.expired():
                    raise TaskTimeout(timeout) from None
                raise
        call = functools.partial(contextvars.copy_context().run, task.func, *args, **kwargs)
        future = asyncio.wrap_future(self._threads.submit(call))
        if timeout is None:
            return await future
        done, _ = await asyncio.wait([future], timeout=timeout)
        if not done:
            # a thread cannot be stopped from outside: it runs on, but its result is dropped
            self.abandoned += 1
            self._threads.grow()  # keep the pool's capacity: that thread is lost to it
            logger.warning(
                "job %s (%s) overran its %g s timeout in a thread, which cannot be stopped: "
                "the job is failed and the thread abandoned (%d so far; each runs on until its "
                "task returns, and ends with the process)",
                job_id,
                task.name,
                timeout,
                self.abandoned,
            )
            future.add_done_callback(_discard)
            raise TaskTimeout(timeout)
        return future.result()

    def shutdown(self) -> None:
        self._threads.shutdown()


def _discard(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # mark retrieved: the job already ended
