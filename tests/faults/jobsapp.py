"""The app that the fault tests' worker processes run, as `conveyor worker faults.jobsapp:app`.

Every task writes its own oracle: one line per event ("start", "end", "cancel", "block") to
the file named by FAULTS_LOG, outside the queue under test. Each line is a single `write` to
a file opened with O_APPEND, so lines from several processes never interleave and a line
that was written survives the writer's SIGKILL.

The process environment steers the tasks:

- FAULTS_DB_URL: the backend URL of `app` (the test process builds its own `Jobs`).
- FAULTS_LOG: the oracle log.
- FAULTS_NAP_SCALE: multiplies every sleep; a worker started with 0 runs every task at once,
  which is how a test lets a second worker finish what a first one was stuck in.
- FAULTS_CRON: when set, `tick` is scheduled every second (the schedule `faults.tick`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from conveyor import Context, Conveyor

DB_URL_ENV = "FAULTS_DB_URL"
LOG_ENV = "FAULTS_LOG"
SCALE_ENV = "FAULTS_NAP_SCALE"
CRON_ENV = "FAULTS_CRON"

BRIEF_TTL = 1.0  # seconds the results of `brief` and `flop` jobs are kept
LIMITED = 2  # `limited_nap` jobs running at once, across every worker
RATE = "5/s"  # `rated_echo` jobs started, across every worker

# the oracle log's events
START, END, CANCEL, BLOCK = "start", "end", "cancel", "block"


def note(kind: str, ctx: Context) -> None:
    """Append "<kind> <job id> <pid> <attempt> <monotonic ns>" to the oracle log."""
    append(
        os.environ[LOG_ENV],
        f"{kind} {ctx.job_id} {os.getpid()} {ctx.attempt} {time.monotonic_ns()}",
    )


def append(path: str, line: str) -> None:
    """One `write` of one line: it survives the writer's SIGKILL whole, or not at all."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def scale() -> float:
    return float(os.environ.get(SCALE_ENV, "1"))


async def nap(seconds: float, ctx: Context = Context.INJECTED) -> int:
    """Sleep on the event loop; return the worker's pid."""
    note(START, ctx)
    try:
        await asyncio.sleep(seconds * scale())
    except asyncio.CancelledError:
        note(CANCEL, ctx)
        raise
    note(END, ctx)
    return os.getpid()


def sync_nap(seconds: float, ctx: Context = Context.INJECTED) -> int:
    """Sleep in the worker's thread pool; return the worker's pid."""
    note(START, ctx)
    time.sleep(seconds * scale())
    note(END, ctx)
    return os.getpid()


def import_rows(rows_file: str, total: int, chunk: int, ctx: Context = Context.INJECTED) -> int:
    """Import rows 0..total-1 in chunks, as "<attempt> <row>" lines of `rows_file`.

    After each chunk the next row is saved as the checkpoint, durably, so a later attempt
    starts there. Returns the row this attempt started at.
    """
    note(START, ctx)
    start: int = ctx.checkpoint["row"] if ctx.checkpoint else 0
    for first in range(start, total, chunk):
        for row in range(first, min(first + chunk, total)):
            append(rows_file, f"{ctx.attempt} {row}")
            time.sleep(0.01 * scale())
        ctx.save_checkpoint({"row": min(first + chunk, total)}).wait()
    note(END, ctx)
    return start


def pid_nap(pid_file: str, seconds: float) -> None:
    """Write this process's pid to `pid_file`, then sleep: a process task's child."""
    append(pid_file, str(os.getpid()))
    time.sleep(seconds * scale())


async def die_after_return(ctx: Context = Context.INJECTED) -> int:
    """Return normally; on the first attempt the worker dies before it writes the outcome.

    The kill is scheduled with `call_soon` just before returning, so it runs right after
    the worker has queued the acknowledgement and before its flusher can write it: the
    event loop runs ready callbacks in order, and the flusher is only woken by the ack.
    That holds only if no other job of this worker ended earlier in the same turn of the
    loop (its ack would have woken the flusher first, and the flusher would take this
    job's ack with its own): a test keeps the worker's other jobs busy meanwhile.
    """
    note(START, ctx)
    note(END, ctx)
    if ctx.attempt == 1:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGKILL)
    return os.getpid()


async def stall(block: float, ctx: Context = Context.INJECTED) -> int:
    """A moment of ordinary async work, then `block` seconds holding the event loop.

    A test SIGSTOPs the worker once the "block" line appears: when it resumes, the handler
    returns at once and the worker's next step writes its (by then stale) acknowledgement.
    """
    note(START, ctx)
    await asyncio.sleep(0.2 * scale())
    note(BLOCK, ctx)
    time.sleep(block * scale())  # noqa: ASYNC251 - holding the loop is the point
    note(END, ctx)
    return os.getpid()


async def poison(ctx: Context = Context.INJECTED) -> None:
    """Kill the worker process running it, on every attempt."""
    note(START, ctx)
    await asyncio.sleep(0.2)
    os.kill(os.getpid(), signal.SIGKILL)
    await asyncio.sleep(60)  # not reached


async def echo(value: Any, ctx: Context = Context.INJECTED) -> int:
    """Accept any JSON value; return the worker's pid."""
    note(START, ctx)
    note(END, ctx)
    return os.getpid()


async def tick(ctx: Context = Context.INJECTED) -> str:
    """A cron job: log the run; return the tick it was enqueued for."""
    note(START, ctx)
    note(END, ctx)
    return ctx.headers["cron_tick"]


async def flop(ctx: Context = Context.INJECTED) -> None:
    """Raise on every attempt."""
    note(START, ctx)
    raise RuntimeError(f"job {ctx.job_id} flops, as it should")


async def count_up(value: int, ctx: Context = Context.INJECTED) -> int:
    """A workflow step: `value` + 1, after a short nap."""
    note(START, ctx)
    await asyncio.sleep(0.05 * scale())
    note(END, ctx)
    return value + 1


async def count_up_then_die(value: int, ctx: Context = Context.INJECTED) -> int:
    """`value` + 1; on the first attempt the worker dies before it writes the outcome, and
    with it the workflow's next job (the kill is timed as in `die_after_return`).

    The first attempt naps first, long past its neighbours' short naps, so that no other
    job of this worker ends in the turn of the loop in which it returns.
    """
    note(START, ctx)
    if ctx.attempt == 1:
        await asyncio.sleep(1.0 * scale())
    note(END, ctx)
    if ctx.attempt == 1:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGKILL)
    return value + 1


_hoard: list[bytes] = []


async def hoard(megabytes: int, ctx: Context = Context.INJECTED) -> int:
    """Leak `megabytes` MB into the worker process for good, as leaky task code does."""
    note(START, ctx)
    _hoard.append(os.urandom(megabytes * 2**20))
    note(END, ctx)
    return os.getpid()


async def add_up(values: list[int], ctx: Context = Context.INJECTED) -> int:
    """A chord's callback: the sum of its members' results."""
    note(START, ctx)
    note(END, ctx)
    return sum(values)


class Jobs:
    """The fault tests' tasks, registered under fixed names on one app."""

    def __init__(self, url: str) -> None:
        self.app = Conveyor(url)
        task = self.app.task
        self.nap = task(name="faults.nap")(nap)
        self.sync_nap = task(name="faults.sync_nap")(sync_nap)
        self.import_rows = task(name="faults.import_rows")(import_rows)
        self.pid_nap = task(name="faults.pid_nap", executor="process")(pid_nap)
        self.die_after_return = task(name="faults.die_after_return")(die_after_return)
        self.stall = task(name="faults.stall")(stall)
        self.poison = task(name="faults.poison")(poison)
        self.echo = task(name="faults.echo")(echo)
        # what a finished job leaves in the store expires after BRIEF_TTL; failed is kept
        self.brief = task(name="faults.brief", result_ttl=BRIEF_TTL)(echo)
        self.flop = task(name="faults.flop", retries=0, result_ttl=BRIEF_TTL)(flop)
        self.tick = task(name="faults.tick")(tick)
        self.count_up = task(name="faults.count_up")(count_up)
        self.count_up_then_die = task(name="faults.count_up_then_die")(count_up_then_die)
        self.add_up = task(name="faults.add_up")(add_up)
        self.hoard = task(name="faults.hoard")(hoard)
        # limits held across every worker process (test_limits)
        self.limited_nap = task(name="faults.limited_nap", concurrency=LIMITED)(nap)
        self.rated_echo = task(name="faults.rated_echo", rate_limit=RATE)(echo)
        if os.environ.get(CRON_ENV):
            self.app.cron("* * * * * *", name="faults.tick")(self.tick)


jobs = Jobs(os.environ.get(DB_URL_ENV, "memory://"))
app = jobs.app
