"""examples/observability/tracing.py run as its docstring says, in two processes: a request
to the API adds a job, `conveyor worker` runs it, and both print their spans to stdout.
The job's run is in the request's trace, below the PRODUCER span of its enqueue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def run(args: list[str], cwd: Path, url: str) -> list[dict[str, Any]]:
    """Run `python ARGS` with the example's app on `url`; the spans it printed."""
    env = {**os.environ, "CONVEYOR_URL": url}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{args} exited with {done.returncode}:\n{done.stderr}"
    return printed_spans(done.stdout)


def printed_spans(text: str) -> list[dict[str, Any]]:
    """ConsoleSpanExporter prints one indented JSON object per span, one after another."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        span, at = decoder.raw_decode(text, at)
        spans.append(span)
    return spans


def one(spans: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [span for span in spans if span["kind"] == f"SpanKind.{kind}"]
    assert len(found) == 1, f"{len(found)} {kind} spans: {found}"
    return found[0]


def test_the_workers_span_is_in_the_requests_trace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    api_spans = run(["-m", "observability_examples.pay_for_an_order"], TESTS, url)
    worker_spans = run(
        ["-m", "conveyor", "worker", "examples.observability.tracing:conveyor", "--burst"],
        ROOT,
        url,
    )

    request, send = one(api_spans, "SERVER"), one(api_spans, "PRODUCER")
    process = one(worker_spans, "CONSUMER")
    assert request["name"] == "POST /orders/{order_id}/pay"
    assert send["parent_id"] == request["context"]["span_id"]
    assert process["parent_id"] == send["context"]["span_id"]
    assert process["context"]["trace_id"] == request["context"]["trace_id"]
    assert process["attributes"]["messaging.conveyor.job.outcome"] == "succeeded"
    assert request["resource"]["attributes"]["service.name"] == "shop-api"
    assert process["resource"]["attributes"]["service.name"] == "shop-worker"
