"""Serving conveyor's Prometheus metrics: from a worker over HTTP, or mounted in an ASGI app.

    conveyor worker myapp:app --metrics-port 9100            # or, in code:
    async with metrics_server(app, "127.0.0.1", 9100): ...
    api.mount("/metrics", metrics_app(app))                  # FastAPI / Starlette

Both expose the app's `PrometheusMiddleware` registry (adding the middleware if the app has
none) and refresh the queue gauges (`conveyor_queue_jobs`, `conveyor_queue_oldest_age_seconds`)
from the backend as they are scraped, at most once every `sample_every` seconds.

Several worker processes on one machine: prometheus-client's multiprocess mode.

1. Give every process the same empty directory, emptied at each deploy:
   `PROMETHEUS_MULTIPROC_DIR=/run/conveyor-metrics` (set before the process starts).
2. Put `PrometheusMiddleware()` in the app itself (`Conveyor(middleware=[...])`), so every
   worker (and the web app that enqueues) records its jobs.
3. Serve from one process only: one worker with `--metrics-port`, or the web app with
   `metrics_app`. (`conveyor worker --processes N --metrics-port P` does all three itself:
   the supervisor makes the directory, unless one is set, its children record, and it
   serves.) It exposes every process's values, read from the directory: counters and
   histograms summed, `conveyor_jobs_running` summed over the processes alive (the files of
   dead ones are dropped as it serves), the queue gauges as last sampled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from conveyor.app import Conveyor
from conveyor.backends.base import NO_BACKLOG, QueueBacklog
from conveyor.errors import ConfigurationError

try:
    from prometheus_client import CollectorRegistry, make_asgi_app, start_http_server
    from prometheus_client.metrics_core import Metric
    from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
    from prometheus_client.registry import Collector

    from conveyor.middleware.prometheus import JobMetrics, PrometheusMiddleware
except ImportError:
    raise ConfigurationError(
        "conveyor.metrics needs prometheus-client: pip install 'conveyor[prometheus]'"
    ) from None

__all__ = ["metrics_app", "metrics_server"]

logger = logging.getLogger("conveyor.metrics")

SAMPLE_EVERY = 5.0  # seconds between two reads of the backlog, however often scrapes come
SAMPLE_TIMEOUT = 3.0  # seconds a read of the backlog may take before a scrape goes on without
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
STATES = ("scheduled", "queued", "active", "failed")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@contextlib.asynccontextmanager
async def metrics_server(
    app: Conveyor, host: str, port: int, *, sample_every: float = SAMPLE_EVERY
) -> AsyncIterator[None]:
    """Serve http://HOST:PORT/metrics from a thread while the block runs (a worker, say).

    Scrapes are answered even while the event loop is busy; the queue gauges are read on
    the loop, which the scrape waits for at most SAMPLE_TIMEOUT seconds before serving the
    last values. A port already in use fails here, with a ConfigurationError.
    """
    middleware = _prometheus_of(app)
    sampler = _QueueSampler(app, middleware.metrics, sample_every)
    loop = asyncio.get_running_loop()
    exposed = _exposition(middleware.registry, lambda: sampler.refresh_from_thread(loop))
    try:
        server, thread = start_http_server(port, host, registry=exposed)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from None
    logger.info("serving Prometheus metrics at http://%s:%d/metrics", host, port)

    def stop() -> None:  # waits for the serving thread to notice: not on the loop
        server.shutdown()
        server.server_close()
        thread.join()

    try:
        yield
    finally:
        await asyncio.to_thread(stop)


def metrics_app(app: Conveyor, *, sample_every: float = SAMPLE_EVERY) -> ASGIApp:
    """An ASGI app serving the metrics: `api.mount("/metrics", metrics_app(conveyor))`.

    The queue gauges are read from `app`'s backend on the serving event loop, awaited,
    never blocking it.
    """
    middleware = _prometheus_of(app)
    sampler = _QueueSampler(app, middleware.metrics, sample_every)
    serve = make_asgi_app(_exposition(middleware.registry, None))

    async def metrics(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no lifespan to run
            return
        await sampler.refresh()
        await serve(scope, receive, send)

    return metrics


def record_metrics(app: Conveyor) -> None:
    """Make `app` count its jobs (a `PrometheusMiddleware`, unless it has one): what each
    worker process of `conveyor worker --processes --metrics-port` does, for the supervisor
    to serve from the multiprocess directory."""
    _prometheus_of(app)


def process_exited(pid: int) -> None:
    """A process of the multiprocess directory exited: its live gauges stop counting (its
    counters and histograms stay in the sums)."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if directory:
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _prometheus_of(app: Conveyor) -> PrometheusMiddleware:
    """The app's Prometheus middleware; one with the default registry if it had none."""
    for middleware in app.middleware:
        if isinstance(middleware, PrometheusMiddleware):
            return middleware
    added = PrometheusMiddleware()
    app.add_middleware(added)
    return added


class _QueueSampler:
    """Reads the backlog of every queue into the queue gauges, at most every `interval` s."""

    def __init__(self, app: Conveyor, metrics: JobMetrics, interval: float) -> None:
        self._app = app
        self._metrics = metrics
        self._interval = interval
        self._sampled_at: float | None = None  # time.monotonic() of the last read
        self._lock = asyncio.Lock()
        # a queue once seen stays reported, at 0 once empty, so its series do not vanish
        self._queues = {task.config.queue for task in app.tasks.values()}

    def _fresh(self) -> bool:
        return self._sampled_at is not None and time.monotonic() - self._sampled_at < self._interval

    async def refresh(self) -> None:
        """On the app's event loop: read the backlog if the last read is stale."""
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():  # another scrape read it while this one waited
                return
            try:
                async with asyncio.timeout(SAMPLE_TIMEOUT):
                    backlog = await (await self._app.connected()).backlog()
            except Exception as exc:  # the store is away: serve the last values
                logger.warning("could not read the queues' backlog for metrics: %r", exc)
            else:
                self._set(backlog)
            self._sampled_at = time.monotonic()

    def refresh_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """From a serving thread: refresh on `loop`, waiting for it a bounded time."""
        if self._fresh():
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self.refresh(), loop)
        except RuntimeError:  # the loop closed: the worker is stopping
            return
        try:
            future.result(SAMPLE_TIMEOUT + 1.0)
        except TimeoutError:
            future.cancel()
            logger.warning("the worker's event loop did not answer; serving the last backlog")
        except concurrent.futures.CancelledError:  # the loop is stopping
            pass

    def _set(self, backlog: dict[str, QueueBacklog]) -> None:
        self._queues.update(backlog)
        for queue in self._queues:
            found = backlog.get(queue, NO_BACKLOG)
            for state in STATES:
                self._metrics.queue_jobs.labels(queue, state).set(getattr(found, state))
            self._metrics.queue_oldest_age.labels(queue).set(found.oldest_age)


class _Exposition:
    """What a scrape reads, once `refresh` ran: the registry, or in multiprocess mode the
    values every process wrote to the directory."""

    def __init__(self, registry: CollectorRegistry, refresh: Callable[[], None] | None) -> None:
        self._refresh = refresh
        self._directory = os.environ.get(MULTIPROCESS_DIR) or None
        self._source = registry
        if self._directory is not None:
            self._source = CollectorRegistry()
            MultiProcessCollector(self._source, self._directory)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        if self._refresh is not None:
            self._refresh()
        if self._directory is not None:
            _forget_dead_processes(Path(self._directory))
        return self._source.collect()


def _exposition(registry: CollectorRegistry, refresh: Callable[[], None] | None) -> Collector:
    exposed = CollectorRegistry()  # a registry, as prometheus-client's servers expect
    exposed.register(_Exposition(registry, refresh))
    return exposed


def _forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges (`conveyor_jobs_running`) of processes that died without a word
    (SIGKILL, say), so the jobs they were running stop counting."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            pass
