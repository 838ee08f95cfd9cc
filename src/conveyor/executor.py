"""Running one task call: async on the loop, sync in a thread or a child process; timeouts."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from typing import TYPE_CHECKING, Any

from conveyor.context import Context, Reporter
from conveyor.errors import TaskTimeout
from conveyor.job import JobRecord
from conveyor.soft_timeouts import soft_timeout_of, with_soft_timeout
from conveyor.task import Task
from conveyor.threads import DaemonThreadPool
from conveyor.timeouts import within

if TYPE_CHECKING:
    from conveyor.processes import ProcessPool

logger = logging.getLogger("conveyor.worker")


class Executor:
    """Runs task functions; sync ones in a bounded thread pool so the loop never blocks,
    or in a pool of `processes` child processes for tasks declared `executor="process"`."""

    def __init__(self, threads: int, processes: int) -> None:
        self._threads = DaemonThreadPool(threads)
        self._processes: ProcessPool | None = None  # started when a process task first runs
        self._process_count = processes
        self.abandoned = 0

    async def run(
        self,
        task: Task[Any, Any],
        record: JobRecord,
        args: list[Any],
        kwargs: dict[str, Any],
        reporter: Reporter,
        context: Context | None,
    ) -> bytes:
        """The call's result, encoded as JSON (a process task's child encodes its own)."""
        soft_timeout = soft_timeout_of(record.headers) if record.headers else None
        if task.config.executor == "process":
            if self._processes is None:
                # imported by the first process task: most workers never need it
                from conveyor.processes import ProcessPool

                self._processes = ProcessPool(self._process_count)
            return await self._processes.run(task, record, reporter, soft_timeout)
        if context is not None:
            context._start_clock(record.timeout)
        result = await self._call_here(task, args, kwargs, record, soft_timeout, context)
        return task.result_codec.encode(result)

    async def _call_here(
        self,
        task: Task[Any, Any],
        args: list[Any],
        kwargs: dict[str, Any],
        record: JobRecord,
        soft_timeout: float | None,
        context: Context | None,
    ) -> Any:
        timeout = record.timeout
        if task.is_async:
            call = task.func(*args, **kwargs)
            if soft_timeout is not None:
                call = with_soft_timeout(soft_timeout, call, context)
            return await within(timeout, call)
        call = functools.partial(contextvars.copy_context().run, task.func, *args, **kwargs)
        future = asyncio.wrap_future(self._threads.submit(call))
        if soft_timeout is not None and context is not None:  # a thread only sees the flag
            loop = asyncio.get_running_loop()
            soft = loop.call_later(soft_timeout, context._expire_soft_timeout)
            future.add_done_callback(lambda _: soft.cancel())
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
                record.id,
                task.name,
                timeout,
                self.abandoned,
            )
            future.add_done_callback(_discard)
            raise TaskTimeout(timeout)
        return future.result()

    def shutdown(self) -> None:
        self._threads.shutdown()
        if self._processes is not None:
            self._processes.shutdown()


def _discard(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # mark retrieved: the job already ended
