"""A job enqueued in one process runs in another inside the same trace: the worker's
CONSUMER span is the child of the producer's PRODUCER span, whatever the backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conveyor.middleware.tracing import MESSAGE_ID

from .support import SPANS_ENV, URL_ENV, one, read_spans

TESTS_DIR = Path(__file__).resolve().parents[1]  # holds the `tracing` package


def run_python(*args: str, url: str, spans: Path) -> str:
    """Run `python ARGS...` with the tests' app on `url` exporting to `spans`; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_URL"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH")) if p)
    env.update({URL_ENV: url, SPANS_ENV: str(spans)})
    done = subprocess.run(
        [sys.executable, *args],
        cwd=TESTS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"{args} exited with {done.returncode}:\n{done.stderr}"
    return done.stdout


def test_the_workers_span_is_the_child_of_the_producers(shared_url: str, tmp_path: Path) -> None:
    producer_spans, worker_spans = tmp_path / "producer.jsonl", tmp_path / "worker.jsonl"

    job_id = run_python("-m", "tracing.producer", url=shared_url, spans=producer_spans).strip()
    run_python(
        "-m", "conveyor", "worker", "tracing.tracedapp:app", "--burst",
        url=shared_url, spans=worker_spans,
    )  # fmt: skip

    send = one(read_spans(producer_spans), kind="PRODUCER")
    spans = read_spans(worker_spans)
    process = one(spans, kind="CONSUMER")
    assert send.name == "send default"
    assert process.name == "process default"
    assert send.attributes[MESSAGE_ID] == process.attributes[MESSAGE_ID] == job_id
    assert process.trace_id == send.trace_id
    assert process.parent_id == send.span_id
    assert process.links == [send.span_id]
    # current while the task ran: the task's own span is the job's child
    assert one(spans, name="compose greeting").parent_id == process.span_id
