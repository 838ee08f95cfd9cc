"""The configurations compared: no middleware, metrics, tracing, and both."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal, get_args

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from prometheus_client import CollectorRegistry

from conveyor.middleware import Middleware
from conveyor.middleware.prometheus import PrometheusMiddleware
from conveyor.middleware.tracing import TracingMiddleware

Variant = Literal["off", "metrics", "tracing", "both"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)

DESCRIPTIONS: dict[Variant, str] = {
    "off": "no middleware",
    "metrics": "`PrometheusMiddleware(registry=CollectorRegistry())`",
    "tracing": "`TracingMiddleware(tracer_provider=...)`: OpenTelemetry SDK `TracerProvider`, "
    "`ALWAYS_ON` sampler, default `BatchSpanProcessor` into an exporter that drops every span",
    "both": "tracing (outer) then metrics",
}


class DropSpans(SpanExporter):
    """Accepts every batch and keeps nothing: the figure is the SDK's cost, not a collector's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


@dataclasses.dataclass(frozen=True, slots=True)
class Observability:
    """A variant's middleware, and the tracer provider to flush when the process is done."""

    middleware: list[Middleware]
    tracer_provider: TracerProvider | None

    def shutdown(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()


def observability(variant: Variant) -> Observability:
    """New objects every call (a registry of its own): several variants can share a process."""
    middleware: list[Middleware] = []
    provider = None
    if variant in ("tracing", "both"):
        provider = TracerProvider(sampler=ALWAYS_ON)
        provider.add_span_processor(BatchSpanProcessor(DropSpans()))
        middleware.append(TracingMiddleware(tracer_provider=provider))
    if variant in ("metrics", "both"):
        middleware.append(PrometheusMiddleware(registry=CollectorRegistry()))
    return Observability(middleware, provider)
