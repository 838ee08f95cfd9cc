"""Tracing is the `conveyor[otel]` extra: conveyor never imports OpenTelemetry on its own,
and without opentelemetry-api the tracing middleware says how to install it."""

from __future__ import annotations

import subprocess
import sys


def python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_conveyor_and_its_worker_do_not_import_opentelemetry() -> None:
    code = (
        "import sys, conveyor, conveyor.cli, conveyor.worker, conveyor.middleware; "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    assert python(code) == "[]"


def test_without_opentelemetry_the_middleware_says_which_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"  # as if it were not installed
        "try:\n"
        "    from conveyor.middleware.tracing import TracingMiddleware\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc, sep=': ')\n"
    )
    assert python(code) == (
        "ConfigurationError: tracing needs opentelemetry-api: pip install 'conveyor[otel]'"
    )
