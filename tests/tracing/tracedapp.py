"""The app of the tracing tests' processes: `conveyor worker tracing.tracedapp:app`.

TRACING_URL names its backend, TRACING_SPANS the file its spans go to. The tracer provider
is set when a worker starts (the producer sets its own), after the import, which does no I/O.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

from opentelemetry import trace

from conveyor import Conveyor
from conveyor.middleware.tracing import TracingMiddleware

from .support import SPANS_ENV, URL_ENV, export_to_file

app = Conveyor(os.environ.get(URL_ENV), middleware=[TracingMiddleware()])


@app.on_startup
async def export_spans(state: types.SimpleNamespace) -> None:
    export_to_file(Path(os.environ[SPANS_ENV]))


@app.task
async def greet(name: str) -> str:
    with trace.get_tracer("tests.tracing").start_as_current_span("compose greeting"):
        return f"hello {name}"
