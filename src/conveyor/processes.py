"""A small pool of worker processes for sync tasks declared `@app.task(executor="process")`.

`concurrent.futures.ProcessPoolExecutor` cannot stop one running call, so this pool keeps
its own `multiprocessing` children (spawn context: no forked copy of the worker's loop, its
sockets or its threads) and kills the one running a job that overran its timeout, was
cancelled, or must be handed back; a fresh child replaces it when the next job needs one.

What crosses the pipe is plain data: a job goes down as its stored JSON payload, and comes
back as the JSON-encoded result or the error's type, message and traceback as text. The
child finds the function by module and qualified name and decodes the payload itself with
the task's codec, so nothing from the queue is unpickled or run as code, and no user object
is ever pickled. Log lines the task writes in the child travel back over the pipe too and
are logged by the worker, so they reach its handlers with the job's fields (JSON logs
included). Progress and checkpoints travel back over the same pipe; in the child,
`.wait()` on them returns once the worker process has the value (it is written with the
worker's next flush), and `ctx.state` is empty (startup hooks run in the worker only).
A soft timeout is kept by the child itself, with a SIGALRM timer that raises SoftTimeout in
its main thread, where the task runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import importlib
import logging
import os
import threading
import time
import traceback
import types
from typing import TYPE_CHECKING, Any

from conveyor.context import Context, Reporter
from conveyor.errors import ProcessTaskError, Retry, SerializationError
from conveyor.soft_timeouts import alarm
from conveyor.timeouts import within

if TYPE_CHECKING:
    import multiprocessing.connection
    from multiprocessing.process import BaseProcess

    from conveyor.job import JobRecord
    from conveyor.task import Task


class TaskProcessDied(RuntimeError):
    """The child process running a task ended without an outcome (os._exit, a crash)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    """One call, as the child receives it: names and stored bytes only."""

    module: str
    qualname: str
    task_name: str
    payload: bytes
    job_id: str
    queue: str
    attempt: int
    max_attempts: int
    headers: dict[str, str]
    checkpoint: bytes | None
    timeout: float | None
    soft_timeout: float | None  # raises SoftTimeout in the child's main thread, by SIGALRM


# messages from a child: ("started",) as the call begins, ("report", progress, message,
# checkpoint) and ("log", record attributes) while it runs, then one outcome: ("done", result
# bytes) | ("retry", delay, message) | ("unencodable", message) | ("raised", type name,
# message, traceback)
_Message = tuple[Any, ...]


class _Child:
    """One worker process and the parent's end of its pipe."""

    def __init__(self) -> None:
        import multiprocessing  # here: a worker without process tasks does without it

        spawn = multiprocessing.get_context("spawn")
        self.conn, child_end = spawn.Pipe(duplex=True)
        self.process: BaseProcess = spawn.Process(
            target=serve,
            args=(child_end, os.getpid(), logging.getLogger().getEffectiveLevel()),
            name="conveyor-process",
            daemon=True,
        )
        self.process.start()
        child_end.close()  # the child holds its own copy; EOF then means the child is gone

    def kill(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.join(timeout=5)  # SIGKILL is immediate; this reaps it


class ProcessPool:
    """Runs sync task calls in at most `size` child processes, started on first use."""

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Child] = []

    async def run(
        self,
        task: Task[Any, Any],
        record: JobRecord,
        reporter: Reporter,
        soft_timeout: float | None,
    ) -> bytes:
        """Run one call; return its JSON-encoded result. Cancelling this kills the child."""
        job = _Job(
            module=task.func.__module__,
            qualname=task.func.__qualname__,
            task_name=task.name,
            payload=record.payload,
            job_id=record.id,
            queue=record.queue,
            attempt=record.attempts,
            max_attempts=record.max_attempts,
            headers=dict(record.headers),
            checkpoint=record.checkpoint,
            timeout=record.timeout,
            soft_timeout=soft_timeout,
        )
        async with self._slots:
            child = self._take()
            try:
                outcome = await self._exchange(child, job, reporter, record.timeout)
            except BaseException:  # a timeout, a cancel request, shutdown, a dead child
                child.kill()
                raise
            self._idle.append(child)
        return _unwrap(outcome)

    def _take(self) -> _Child:
        """An idle child still alive (one may have been killed from outside), or a new one."""
        while self._idle:
            child = self._idle.pop()
            if child.process.is_alive():
                return child
            child.kill()
        return _Child()

    async def _exchange(
        self, child: _Child, job: _Job, reporter: Reporter, timeout: float | None
    ) -> _Message:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        outcome: asyncio.Future[_Message] = loop.create_future()

        def readable() -> None:
            try:
                while not outcome.done() and child.conn.poll():
                    message = child.conn.recv()
                    if message[0] == "started":
                        started.set_result(None)
                    elif message[0] == "report":  # written with the worker's next flush
                        reporter.report(*message[1:])
                    elif message[0] == "log":  # in the job's context: its fields join
                        line = logging.makeLogRecord(message[1])
                        logging.getLogger(line.name).handle(line)
                    else:  # an outcome; one that came before the call (bad payload) too
                        if not started.done():
                            started.set_result(None)
                        outcome.set_result(message)
            except (EOFError, OSError):
                child.process.join(timeout=1)
                died = TaskProcessDied(
                    "the task's process ended without an outcome "
                    f"(exit code {child.process.exitcode})"
                )
                (outcome if started.done() else started).set_exception(died)

        child.conn.send(job)
        loop.add_reader(child.conn.fileno(), readable)
        try:
            # the timeout counts from the call: a new child's start-up and imports are free
            await started
            return await within(timeout, outcome)
        finally:
            loop.remove_reader(child.conn.fileno())

    def shutdown(self) -> None:
        """Kill the idle children (between jobs: nothing is lost); busy ones were killed
        when the worker stopped their jobs."""
        for child in self._idle:
            child.kill()
        self._idle.clear()


def _unwrap(outcome: _Message) -> bytes:
    kind = outcome[0]
    if kind == "done":
        result: bytes = outcome[1]
        return result
    if kind == "retry":
        raise Retry(delay=outcome[1], reason=outcome[2])
    if kind == "unencodable":
        raise SerializationError(outcome[1])
    _, type_name, message, traceback_text = outcome
    raise ProcessTaskError(type_name, message, traceback_text)


# -- the child side --------------------------------------------------------------------------


def serve(conn: multiprocessing.connection.Connection, parent_pid: int, log_level: int) -> None:
    """A child's life: run jobs one at a time until the worker closes the pipe or dies."""
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()
    pipe = _Pipe(conn)
    logging.basicConfig(level=log_level, handlers=[_PipeLogHandler(pipe)], force=True)
    while True:
        try:
            job: _Job = conn.recv()
        except (EOFError, OSError):
            return
        pipe.send(_run(job, pipe))


class _Pipe:
    """The child's end, shared by the task's thread and any thread of its that logs."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: _Message) -> None:
        with self._lock:
            self._conn.send(message)


_FORMATTER = logging.Formatter()


class _PipeLogHandler(logging.Handler):
    """Hands the task's log lines to the worker, as plain attributes (nothing unpickled
    there but strings and numbers), its message formatted and its traceback as text."""

    def __init__(self, pipe: _Pipe) -> None:
        super().__init__()
        self._pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        try:
            attributes = {
                "name": record.name,
                "levelno": record.levelno,
                "levelname": record.levelname,
                "msg": record.getMessage(),
                "pathname": record.pathname,
                "lineno": record.lineno,
                "funcName": record.funcName,
                "created": record.created,
                "exc_text": _FORMATTER.formatException(record.exc_info)
                if record.exc_info
                else None,
            }
            self._pipe.send(("log", attributes))
        except Exception:
            self.handleError(record)


def _exit_with(parent_pid: int) -> None:
    """A worker killed by SIGKILL cannot kill its children: they notice and stop running."""
    while os.getppid() == parent_pid:
        time.sleep(0.2)
    os._exit(1)


def _run(job: _Job, pipe: _Pipe) -> _Message:
    try:
        task = _task(job.module, job.qualname, job.task_name)
        args, kwargs = task.call_arguments(task.codec.decode(job.payload))
        context: Context | None = None
        if task.context_params:
            context = Context(
                job_id=job.job_id,
                task_name=job.task_name,
                queue=job.queue,
                attempt=job.attempt,
                max_attempts=job.max_attempts,
                headers=job.headers,
                checkpoint=job.checkpoint,
                reporter=_PipeReporter(pipe),
                state=types.SimpleNamespace(),
            )
            for name in task.context_params:
                kwargs[name] = context
        pipe.send(("started",))
        if context is not None:
            context._start_clock(job.timeout)
        with alarm(job.soft_timeout, context):
            result = task.func(*args, **kwargs)
        return ("done", task.result_codec.encode(result))
    except Retry as exc:
        return ("retry", exc.delay, str(exc))
    except SerializationError as exc:
        return ("unencodable", str(exc))
    except Exception as exc:
        name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
        below_us = exc.__traceback__.tb_next if exc.__traceback__ else None  # from the task down
        text = "".join(traceback.format_exception(type(exc), exc, below_us or exc.__traceback__))
        return ("raised", name, str(exc), text)


@functools.cache
def _task(module: str, qualname: str, task_name: str) -> Task[Any, Any]:
    """The task, rebuilt from its importable function: the same codecs as the worker's."""
    from conveyor.app import Conveyor
    from conveyor.task import Task, TaskConfig

    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    func = found.func if isinstance(found, Task) else found
    return Task(Conveyor("memory://"), func, task_name, TaskConfig())  # no I/O: codecs only


class _PipeReporter:
    """Sends progress and checkpoints to the worker process, which writes them."""

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe

    def report(
        self, progress: float | None, message: str | None, checkpoint: bytes | None
    ) -> concurrent.futures.Future[None]:
        self._pipe.send(("report", progress, message, checkpoint))
        handed_over: concurrent.futures.Future[None] = concurrent.futures.Future()
        handed_over.set_result(None)
        return handed_over
