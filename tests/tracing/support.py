"""Helpers of the tracing tests: spans as plain records, exported to memory or to a file.

A process of the tests (producer or worker) exports its spans as JSON lines to the file
named by TRACING_SPANS; the test reads them back as `SpanRecord`s, the same records it
gets from spans exported in its own process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conveyor import Conveyor, Worker

URL_ENV = "TRACING_URL"  # the backend of the test processes' app
SPANS_ENV = "TRACING_SPANS"  # where a test process writes its spans
LIMIT = 10.0  # seconds an in-process worker may take


@dataclasses.dataclass(frozen=True)
class SpanRecord:
    """What the tests look at in a finished span. Ids are hex, times epoch ns."""

    name: str
    kind: str  # "PRODUCER", "CONSUMER", "SERVER", "INTERNAL", ...
    trace_id: str
    span_id: str
    parent_id: str | None
    attributes: dict[str, Any]
    status: str  # "UNSET", "OK" or "ERROR"
    events: list[dict[str, Any]]  # each {"name": ..., "attributes": {...}}
    links: list[str]  # the span ids it links to
    start: int
    end: int

    @classmethod
    def of(cls, span: ReadableSpan) -> SpanRecord:
        context = span.get_span_context()
        assert context is not None
        assert span.start_time is not None
        assert span.end_time is not None
        return cls(
            name=span.name,
            kind=span.kind.name,
            trace_id=f"{context.trace_id:032x}",
            span_id=f"{context.span_id:016x}",
            parent_id=None if span.parent is None else f"{span.parent.span_id:016x}",
            attributes=dict(span.attributes or {}),
            status=span.status.status_code.name,
            events=[{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
            links=[f"{link.context.span_id:016x}" for link in span.links],
            start=span.start_time,
            end=span.end_time,
        )


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file as one JSON line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(dataclasses.asdict(SpanRecord.of(s))) + "\n" for s in spans)
        with self.path.open("a") as file:
            file.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def export_to_file(path: Path) -> None:
    """Make this process's global tracer provider write every span to `path` as it ends."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    trace.set_tracer_provider(provider)


def read_spans(path: Path) -> list[SpanRecord]:
    return [SpanRecord(**json.loads(line)) for line in path.read_text().splitlines()]


def in_memory() -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider of the test's own (the global one can be set only once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def finished(exporter: InMemorySpanExporter) -> list[SpanRecord]:
    return [SpanRecord.of(span) for span in exporter.get_finished_spans()]


def one(
    spans: Sequence[SpanRecord], *, kind: str | None = None, name: str | None = None
) -> SpanRecord:
    """The only span of that kind and name; fails the test if there are none or several."""
    found = [s for s in spans if kind in (None, s.kind) and name in (None, s.name)]
    assert len(found) == 1, f"{len(found)} spans of kind {kind} named {name}: {found}"
    return found[0]


def consumers(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """The CONSUMER spans, in the order their attempts started."""
    return sorted((s for s in spans if s.kind == "CONSUMER"), key=lambda s: s.start)


def ancestors(span: SpanRecord, spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """The span's parent, its parent's parent, and so on, as far as `spans` go."""
    by_id = {s.span_id: s for s in spans}
    found: list[SpanRecord] = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        found.append(span)
    return found


async def work_off(app: Conveyor) -> Worker:
    """Run a burst worker in this process until no job is due."""
    worker = Worker(app, burst=True, lease=2.0, heartbeat=0.1, idle_poll=0.05)
    async with asyncio.timeout(LIMIT):
        await worker.run()
    return worker
