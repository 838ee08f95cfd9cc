"""`isolated(app)`: a test's own backend under the user's app, and a record of its jobs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from conveyor.app import Conveyor
from conveyor.backends import Backend, from_url
from conveyor.middleware.chain import MiddlewareChain
from conveyor.task import Task, TaskCall
from conveyor.testing import recorder
from conveyor.testing.drain import Drained, drain, drain_sync
from conveyor.testing.eager import eager
from conveyor.testing.recorder import EnqueuedJob, EnqueueRecorder


class IsolatedApp:
    """The user's app on a backend of the test's own, recording every job it stores.

    `with isolated(app) as jobs:` (or the `conveyor_jobs` fixture) makes one; on leaving,
    the app's URL, backend and middleware are what they were.
    """

    def __init__(self, app: Conveyor, url: str) -> None:
        if any(isinstance(m, EnqueueRecorder) for m in app.middleware):
            raise RuntimeError(f"{app!r} is isolated already: one isolated() at a time")
        self.app = app
        self.url = url
        self.recorder = EnqueueRecorder(app)
        self._backend: Backend = from_url(url)  # checks the URL; opened on first use
        self._saved: tuple[str, Backend | None, MiddlewareChain] | None = None

    # -- the jobs --------------------------------------------------------------------------

    def enqueued(
        self, task: Task[Any, Any] | TaskCall[Any, Any] | None = None
    ) -> list[EnqueuedJob]:
        """The jobs stored so far, oldest first; given a task, only its jobs."""
        return recorder.enqueued(self.app if task is None else task)

    def assert_enqueued(
        self, task: Task[Any, Any] | TaskCall[Any, Any], /, *args: Any, **kwargs: Any
    ) -> EnqueuedJob:
        return recorder.assert_enqueued(task, *args, **kwargs)

    def assert_not_enqueued(
        self, task: Task[Any, Any] | TaskCall[Any, Any], /, *args: Any, **kwargs: Any
    ) -> None:
        recorder.assert_not_enqueued(task, *args, **kwargs)

    def clear(self) -> None:
        """Forget the jobs recorded so far (they stay in the store)."""
        self.recorder.jobs.clear()

    async def drain(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 1,
        skip_retry_delays: bool = True,
    ) -> Drained:
        return await drain(
            self.app, queues=queues, concurrency=concurrency, skip_retry_delays=skip_retry_delays
        )

    def drain_sync(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 1,
        skip_retry_delays: bool = True,
    ) -> Drained:
        return drain_sync(
            self.app, queues=queues, concurrency=concurrency, skip_retry_delays=skip_retry_delays
        )

    def eager(self, *, propagate: bool = True) -> contextlib.AbstractContextManager[None]:
        return eager(self.app, propagate=propagate)

    # -- entering and leaving --------------------------------------------------------------

    def __enter__(self) -> IsolatedApp:
        app = self.app
        with app._backend_lock:  # swapped as one: the next use opens the test's backend
            self._saved = (app.url, app._backend, app.middleware_chain)
            app.url, app._backend = self.url, self._backend
            app.middleware_chain = MiddlewareChain([*app.middleware, self.recorder])
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore()
        _close_anywhere(self._backend)

    async def __aenter__(self) -> IsolatedApp:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore()
        await self._backend.close()  # on the loop that used it: any backend closes cleanly

    def _restore(self) -> None:
        assert self._saved is not None, "not entered"
        with self.app._backend_lock:
            self.app.url, self.app._backend, self.app.middleware_chain = self._saved


def isolated(app: Conveyor, url: str = "memory://") -> IsolatedApp:
    """Point `app` at a backend of the test's own (`memory://`, or a temporary SQLite
    file's URL) for the length of a `with` block, recording the jobs it stores.

    `with` closes the backend wherever it is left; a backend bound to an event loop
    (Redis, PostgreSQL) wants `async with`, which closes it on the loop that used it.
    """
    return IsolatedApp(app, url)


def _close_anywhere(backend: Backend) -> None:
    """Close a backend from sync code, even from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(backend.close())
        return
    # a `with` inside an async test: this loop cannot be blocked on, so close on a thread
    closer = threading.Thread(target=asyncio.run, args=(backend.close(),), name="conveyor-close")
    closer.start()
    closer.join()
