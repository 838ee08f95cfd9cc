"""A worker process started by `conveyor worker --processes`: its limits, and its watch on
the supervisor.

At `max_jobs` it claims nothing more (`Worker(max_jobs=...)`); past `max_memory` bytes of
resident memory it retires the same way. Either way it finishes the jobs it holds, acks
them, and exits with RETIRED for the supervisor to start a fresh one: no job is handed back
or run twice. Past its memory limit before it ended a single job, it stops instead, with
TOO_BIG_TO_START: a fresh process would be as big, and the supervisor waits ever longer
before each new try. A child whose supervisor is gone (killed by SIGKILL, say) stops as on
SIGTERM rather than run on unsupervised.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import signal
import sys
from typing import Any

from conveyor.app import Conveyor
from conveyor.supervisor import RETIRED
from conveyor.worker import Worker

logger = logging.getLogger("conveyor.supervisor")

WATCH_EVERY = 0.5  # seconds between two looks at the supervisor and at this process's memory
TOO_BIG_TO_START = 3  # the exit code of a process over its memory limit before its first job


async def run_supervised(
    app: Conveyor,
    supervisor_pid: int,
    *,
    max_memory: int | None = None,
    **options: Any,
) -> int:
    """Run one worker until it stops or retires; the process's exit code."""
    worker = Worker(app, **options)
    watch = _Watch(worker, supervisor_pid, max_memory)
    watching = asyncio.create_task(watch.run())
    try:
        await worker.run(install_signal_handlers=True)
    finally:
        watching.cancel()
        # stopped: a later signal of the supervisor's (the second of a Ctrl-C pressed
        # twice) must not turn this process's ending into a KeyboardInterrupt
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
    if watch.too_big_to_start:
        return TOO_BIG_TO_START
    return RETIRED if worker.retired else 0


class _Watch:
    """Looks at the supervisor and at this process's memory every WATCH_EVERY seconds."""

    def __init__(self, worker: Worker, supervisor_pid: int, max_memory: int | None) -> None:
        self.worker = worker
        self.supervisor_pid = supervisor_pid
        self.max_memory = max_memory
        self.too_big_to_start = False

    async def run(self) -> None:
        worker = self.worker
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if os.getppid() != self.supervisor_pid:
                logger.warning("the supervisor (pid %d) is gone: stopping", self.supervisor_pid)
                worker.stop()
                return
            if self.max_memory is None or worker.retired:
                continue
            used = resident_bytes()
            if used <= self.max_memory:
                continue
            limit = self.max_memory // 2**20
            if worker.processed == 0:  # a replacement would start as big: no use recycling
                logger.error(
                    "this worker process holds %d MB before ending any job, over its limit "
                    "of %d MB (--max-memory-per-child): stopping; raise the limit",
                    used // 2**20, limit,
                )  # fmt: skip
                self.too_big_to_start = True
                worker.stop()
                return
            logger.info(
                "this worker process holds %d MB, over its limit of %d MB: it takes no new "
                "jobs and will be replaced once the jobs it holds are done",
                used // 2**20, limit,
            )  # fmt: skip
            worker.retire()


def resident_bytes() -> int:
    """This process's resident memory now (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes
