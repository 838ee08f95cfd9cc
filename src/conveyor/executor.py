"""Running one task call: async on the loop, sync in a thread or a child process; timeouts."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from typing import Any

from conveyor.context import Reporter
from conveyor.errors import TaskTimeout
from conveyor.job import JobRecord
from conveyor.processes import ProcessPool
from conveyor.task import Task
from conveyor.threads import DaemonThreadPool
from conveyor.timeouts import within

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
    ) -> bytes:
        """The call's result, encoded as JSON (a process task's child encodes its own)."""
        if task.config.executor == "process":
            if self._processes is None:
                self._processes = ProcessPool(self._process_count)
            return await self._processes.run(task, record, reporter)
        result = await self._call_here(task, args, kwargs, record.timeout, record.id)
        return task.result_codec.encode(result)

    async def _call_here(
        self,
        task: Task[Any, Any],
        args: list[Any],
        kwargs: dict[str, Any],
        timeout: float | None,
        job_id: str,
    ) -> Any:
        if task.is_async:
            return await within(timeout, task.func(*args, **kwargs))
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
        if self._processes is not None:
            self._processes.shutdown()


def _discard(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # mark retrieved: the job already ended
