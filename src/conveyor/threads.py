"""A pool of daemon threads for sync tasks.

The standard ThreadPoolExecutor joins its threads when the interpreter exits, so a sync
task that overran its timeout, or was handed back on SIGTERM, would keep a stopped worker
process alive until the task returned. These threads are daemons: once the worker has
written every outcome and handed back the rest, the process can exit.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any

_Item = tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None


class DaemonThreadPool:
    def __init__(self, max_threads: int, name: str = "conveyor-task") -> None:
        self.max_threads = max_threads
        self._name = name
        self._items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._waiting = 0  # submitted, not yet taken by a thread
        self._busy = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, call: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the task thread pool is shut down")
            self._waiting += 1
            wanted = self._waiting + self._busy > len(self._threads)
            if wanted and len(self._threads) < self.max_threads:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._items.put((future, call))
        return future

    def grow(self) -> None:
        """Make room for one more thread: one of ours is stuck in a task that overran."""
        with self._lock:
            self.max_threads += 1

    def _serve(self) -> None:
        while (item := self._items.get()) is not None:
            future, call = item
            with self._lock:
                self._waiting -= 1
                self._busy += 1
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:
                    future.set_exception(exc)
            with self._lock:
                self._busy -= 1
            del item, future, call

    def shutdown(self) -> None:
        """Stop idle threads; busy ones end with their task, or with the process."""
        with self._lock:
            self._closed = True
            count = len(self._threads)
        for _ in range(count):
            self._items.put(None)
