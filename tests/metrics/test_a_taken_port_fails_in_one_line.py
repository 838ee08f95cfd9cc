"""What stops `--metrics-port` says so in one line: a port in use, prometheus-client missing."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from .support import Harness

NO_PROMETHEUS = "import sys; sys.modules['prometheus_client'] = None; "


async def test_a_port_in_use_stops_the_worker_at_start(harness: Harness) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = harness.start_worker(port=port)
        await harness.wait_until(lambda: not worker.alive, 15, "the worker to give up")

    output = worker.output()
    assert worker.popen.returncode == 1
    assert output.strip().splitlines()[-1] == (
        f"Error: cannot serve metrics on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in output
    assert "started: queues" not in output  # it failed before working


def test_without_prometheus_client_the_cli_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text(
        f"from conveyor import Conveyor\napp = Conveyor('sqlite:///{tmp_path}/jobs.db')\n"
    )
    code = NO_PROMETHEUS + "from conveyor.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "worker", "plain:app", "--metrics-port", "9999"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: conveyor.metrics needs prometheus-client: pip install 'conveyor[prometheus]'"
    )


def test_without_prometheus_client_the_middleware_says_what_to_install() -> None:
    code = NO_PROMETHEUS + "import conveyor.middleware.prometheus"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "conveyor.errors.ConfigurationError: the Prometheus middleware needs "
        "prometheus-client: pip install 'conveyor[prometheus]'"
    )
