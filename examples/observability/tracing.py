"""OpenTelemetry for a FastAPI app and its conveyor worker: one trace from request to job.

    uvicorn examples.observability.tracing:api                 # the API
    conveyor worker examples.observability.tracing:conveyor    # the worker

Both print their spans to stdout. A request to `POST /orders/{id}/pay` makes a SERVER span
(FastAPIInstrumentor), a PRODUCER span `send default` below it when its job is stored, and,
in the worker, a CONSUMER span `process default` below that: the same trace id, across the
two processes, carried in the job's headers.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from conveyor import Conveyor
from conveyor.fastapi import Jobs, conveyor_lifespan
from conveyor.middleware.tracing import TracingMiddleware

SERVICE = "shop"


def configure_tracing(
    service_name: str, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install the SDK as this process's global tracer provider, which TracingMiddleware
    and FastAPIInstrumentor use when given none. Returns it, for the caller to shut down
    (that flushes the last spans), or None when the process already had one (an API that
    runs an embedded worker: the API's lifespan configured it, and shuts it down).

    To send spans to a collector (the OpenTelemetry Collector, Jaeger, Tempo, ...) rather
    than to stdout, `pip install opentelemetry-exporter-otlp-proto-http` and pass
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318
    """
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # batched: spans leave on a background thread, never on the request's or the job's path
    provider.add_span_processor(BatchSpanProcessor(exporter or ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


# No provider is given: the middleware uses the global one, set by the hooks below before
# any job flows. Put it first, so its spans also cover the middleware after it.
conveyor = Conveyor(middleware=[TracingMiddleware()])


@conveyor.task(retries=3)
async def send_receipt(order_id: int) -> str:
    await asyncio.sleep(0.05)  # the mail server's round trip
    return f"receipt for order {order_id} sent"


@conveyor.on_startup
async def start_tracing(state: types.SimpleNamespace) -> None:
    """The worker side: the provider is made when a worker starts, not at import."""
    state.tracer_provider = configure_tracing(f"{SERVICE}-worker")


@conveyor.on_shutdown
async def flush_spans(state: types.SimpleNamespace) -> None:
    if state.tracer_provider is not None:
        state.tracer_provider.shutdown()


@asynccontextmanager
async def api_tracing(api: FastAPI) -> AsyncIterator[None]:
    """The API side, in its lifespan: spans are flushed when the server stops."""
    provider = configure_tracing(f"{SERVICE}-api")
    try:
        yield
    finally:
        if provider is not None:
            provider.shutdown()


api = FastAPI(lifespan=conveyor_lifespan(conveyor, lifespan=api_tracing))


@api.post("/orders/{order_id}/pay", status_code=202)
async def pay(order_id: int, jobs: Jobs) -> dict[str, str]:
    """The jobs a request adds are stored inside its SERVER span: they join its trace."""
    return {"job_id": jobs.add(send_receipt, order_id).id}


FastAPIInstrumentor.instrument_app(api)  # a SERVER span per request
