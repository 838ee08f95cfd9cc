"""One SQLite connection on its own thread, with group commit.

Every operation is a function of (connection, now) that runs inside a transaction on the
thread. Operations that arrive while a transaction is being written are gathered into the
next one, so concurrent enqueues and acknowledgements share one commit (one fsync). Each
operation runs under its own savepoint: one that raises is undone alone, the rest commit.
Callers on any event loop await the outcome; nothing blocks a loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from conveyor.errors import BackendUnavailable

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection, float], T]

MAX_BATCH = 512


class _Request:
    __slots__ = ("future", "operation", "writes")

    def __init__(self, operation: Operation[Any], writes: bool) -> None:
        self.operation = operation
        self.writes = writes
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


class SQLiteThread:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> None:
        self._started.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._serve, name="conveyor-sqlite", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error

    def stop(self) -> None:
        if self._thread is None:
            return
        self._requests.put(None)
        self._thread.join()
        self._thread = None

    def submit(self, operation: Operation[T], writes: bool = True) -> concurrent.futures.Future[T]:
        if self._thread is None:
            raise BackendUnavailable("the SQLite backend is not open: call `await app.open()`")
        request = _Request(operation, writes)
        self._requests.put(request)
        return request.future

    async def run(self, operation: Operation[T], writes: bool = True) -> T:
        return await asyncio.wrap_future(self.submit(operation, writes))

    def _serve(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._startup_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            while True:
                first = self._requests.get()
                if first is None:
                    return
                batch = [first]
                stopping = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._requests.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                self._run_batch(conn, batch)
                if stopping:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        outcomes: list[tuple[_Request, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE" if any(r.writes for r in live) else "BEGIN")
            # the clock is read once the write lock is held, so time only moves forward
            now = time.time()
            if len(live) == 1:
                outcomes.append(_attempt(conn, live[0], now, savepoint=False))
            else:
                outcomes.extend(_attempt(conn, r, now, savepoint=True) for r in live)
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole transaction is gone: tell every caller
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = _unavailable(exc)
            for request in live:
                request.future.set_exception(error)
            return
        for request, value, failure in outcomes:
            if failure is None:
                request.future.set_result(value)
            else:
                request.future.set_exception(failure)


def _attempt(
    conn: sqlite3.Connection, request: _Request, now: float, savepoint: bool
) -> tuple[_Request, Any, BaseException | None]:
    if savepoint:
        conn.execute("SAVEPOINT op")
    try:
        value = request.operation(conn, now)
    except sqlite3.OperationalError:
        raise  # locked or I/O: the transaction cannot go on
    except Exception as exc:
        if not savepoint:
            raise
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return request, None, exc
    if savepoint:
        conn.execute("RELEASE op")
    return request, value, None


def _unavailable(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError):
        return BackendUnavailable(f"SQLite could not complete the operation: {exc}")
    return exc
