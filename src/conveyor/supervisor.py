"""`conveyor worker --processes N`: one supervisor keeping N worker processes running.

Each child is a whole worker, started as `python -m conveyor worker APP ...` with the
options the supervisor was given. Children are spawned (a fresh interpreter that imports
the app itself), not forked: the supervisor runs an event loop, a metrics thread and
whatever the app's module started at import (a client's pool, an exporter's thread), none
of which survives a fork intact; prometheus-client must see PROMETHEUS_MULTIPROC_DIR
before it is imported, which a fresh interpreter guarantees; and a replacement child
loads the code on disk, as a restarted worker would.

The supervisor:

- restarts a child that dies unexpectedly, saying which one, how it ended and when it will
  be back; the delay doubles for each child in a row that dies within STEADY_AFTER seconds
  of its start, up to BACKOFF_CAP, so a child that cannot start does not spin the CPU;
- replaces at once a child that retired at its limit (`--max-jobs-per-child`,
  `--max-memory-per-child`: it claimed its last job, finished what it held, and exited
  with RETIRED);
- forwards SIGTERM and SIGINT to every child, which stops claiming and finishes within
  its grace period (a second signal: hands its jobs back now; a third: the supervisor
  kills the children), and exits once all of them have. Children run in a process group
  of their own, so a terminal's Ctrl-C reaches the supervisor alone and each child hears
  it once, from the supervisor; a child whose supervisor vanished (SIGKILL) stops by
  itself (`conveyor.supervised`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

logger = logging.getLogger("conveyor.supervisor")

RETIRED = 75  # a child's exit code once it retired at its limit: replace it at once
BACKOFF_FIRST = 0.5  # seconds before restarting a child that died
BACKOFF_CAP = 30.0  # the longest wait between two starts of a child that keeps dying
STEADY_AFTER = 10.0  # a child that lived this long before dying starts the backoff afresh
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@dataclasses.dataclass(slots=True)
class _Child:
    number: int
    process: asyncio.subprocess.Process
    started: float  # time.monotonic()


class Supervisor:
    """Keeps `processes` children of `argv` running until a stop signal (or, for burst
    workers, until every child finished its work); `on_exit(pid)` hears of each child
    that ended."""

    def __init__(
        self,
        argv: Sequence[str],
        processes: int,
        *,
        env: Mapping[str, str] | None = None,
        burst: bool = False,
        stop_timeout: float = 60.0,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.processes = processes
        self.env = dict(os.environ if env is None else env)
        self.burst = burst
        self.stop_timeout = stop_timeout  # after the first stop signal, then children are killed
        self.on_exit = on_exit
        self.children: dict[int, _Child] = {}  # by child number, 1..processes
        self._stopping = asyncio.Event()
        self._signals = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        logger.info("supervisor pid %d: starting %d worker processes", os.getpid(), self.processes)
        try:
            watchdog = asyncio.create_task(self._kill_after_stop_timeout())
            try:
                async with asyncio.TaskGroup() as keepers:  # one fails (no fork left): all end
                    for number in range(1, self.processes + 1):
                        keepers.create_task(self._keep(number))
            finally:
                watchdog.cancel()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            for child in list(self.children.values()):  # left only if something failed
                _send(child, signal.SIGKILL)
                await child.process.wait()
        logger.info("supervisor pid %d: every worker process has exited", os.getpid())

    async def _keep(self, number: int) -> None:
        """Run child `number`, again and again, until the supervisor stops."""
        deaths = 0  # in a row, each soon after its start
        while not self._stopping.is_set():
            child = await self._start(number)
            code = await child.process.wait()
            del self.children[number]
            if self.on_exit is not None:
                self.on_exit(child.process.pid)
            lived = time.monotonic() - child.started
            pid = child.process.pid
            if self._stopping.is_set():
                logger.info("worker process %d (pid %d) %s", number, pid, _ended(code))
                return
            if code == RETIRED:
                logger.info(
                    "worker process %d (pid %d) retired at its limit after %.1f s; "
                    "starting a fresh one", number, pid, lived,
                )  # fmt: skip
                deaths = 0
                continue
            if code == 0 and self.burst:
                logger.info("worker process %d (pid %d) finished its burst", number, pid)
                return
            deaths = 1 if lived >= STEADY_AFTER else deaths + 1
            delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (deaths - 1))
            logger.error(
                "worker process %d (pid %d) %s after %.1f s; restarting it in %.1f s",
                number, pid, _ended(code), lived, delay,
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _start(self, number: int) -> _Child:
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            process_group=0,  # out of the terminal's group: Ctrl-C reaches the supervisor only
        )
        child = self.children[number] = _Child(number, process, time.monotonic())
        logger.info("worker process %d started (pid %d)", number, process.pid)
        if self._stopping.is_set():  # the stop came while it was being started
            _send(child, signal.SIGTERM)
        return child

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        self._stopping.set()
        live = list(self.children.values())
        if self._signals == 1:
            logger.info(
                "%s: stopping %d worker processes; their running jobs get their grace period",
                sig.name, len(live),
            )  # fmt: skip
        elif self._signals == 2:
            logger.warning(
                "%s again: the worker processes hand their running jobs back now", sig.name
            )
        else:
            logger.warning("%s a third time: killing the worker processes", sig.name)
            sig = signal.SIGKILL
        for child in live:
            _send(child, sig)

    async def _kill_after_stop_timeout(self) -> None:
        await self._stopping.wait()
        await asyncio.sleep(self.stop_timeout)
        for child in list(self.children.values()):
            logger.error(
                "worker process %d (pid %d) has not stopped %.0f s after the stop signal: "
                "killing it", child.number, child.process.pid, self.stop_timeout,
            )  # fmt: skip
            _send(child, signal.SIGKILL)


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[str]:
    """PROMETHEUS_MULTIPROC_DIR for the supervisor and its children: the one set, else a
    fresh directory removed at the end. Entered before prometheus-client is imported, which
    reads it once."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-metrics-") as made:
        os.environ[MULTIPROCESS_DIR] = made
        try:
            yield made
        finally:
            del os.environ[MULTIPROCESS_DIR]


def _send(child: _Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited and is not yet reaped
        child.process.send_signal(sig)


def _ended(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
