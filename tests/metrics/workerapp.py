"""The app the metrics tests' worker processes run, as `conveyor worker metrics.workerapp:app`.

The process environment steers it:

- METRICS_DB_URL: the backend URL.
- METRICS_ORACLE: the oracle file the tasks append to (see `tasks`).
- METRICS_HOLD: when set, a stopping worker waits (up to 20 s) for SIGUSR1 before it exits,
  still serving metrics, so a test can scrape what its shutdown counted.
- PROMETHEUS_MULTIPROC_DIR: prometheus-client's multiprocess mode; the app then carries its
  PrometheusMiddleware itself, as every process of that recipe must.
"""

from __future__ import annotations

import asyncio
import os
import signal
import types

from conveyor import Conveyor
from conveyor.middleware import Middleware
from conveyor.middleware.prometheus import PrometheusMiddleware

from .tasks import DB_URL_ENV, HOLD_ENV, Tasks

middleware: list[Middleware] = []
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    middleware.append(PrometheusMiddleware())
app = Conveyor(os.environ[DB_URL_ENV], middleware=middleware)
tasks = Tasks(app)


if HOLD_ENV in os.environ:

    @app.on_startup
    async def listen_for_release(state: types.SimpleNamespace) -> None:
        state.released = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, state.released.set)

    @app.on_shutdown
    async def hold(state: types.SimpleNamespace) -> None:
        async with asyncio.timeout(20):
            await state.released.wait()
