"""`conveyor dashboard`, run as a user runs it: a real process serving over HTTP."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .support import OPERATOR, VIEWER

APP = """\
from conveyor import Conveyor

app = Conveyor({url!r})


@app.task(queue="emails")
def send(to: str) -> None:
    return None
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "dashapp.py").write_text(APP.format(url=f"sqlite:///{tmp_path}/jobs.db"))
    return tmp_path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "conveyor", "dashboard", "--app", "dashapp:app", *args]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_DASHBOARD_AUTH"}
    return {**env, **extra}


@contextmanager
def serving(project: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start the command; yield the URL it prints once it serves; stop it with SIGINT."""
    process = subprocess.Popen(
        command("--port", "0", *args), cwd=project, env=env or environment(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"conveyor dashboard on (http://\S+)", line)
        assert found, line + (process.stderr.read() if process.stderr else "")
        yield found[1].rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_another_address_without_credentials_is_refused_in_one_line(project: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        command("--host", "0.0.0.0"), cwd=project, env=environment(), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refusing to serve the dashboard on 0.0.0.0 without credentials" in lines[0]
    assert "--auth USER:PASSWORD" in lines[0]
    assert time.monotonic() - started < 30


def test_with_credentials_a_request_without_them_gets_a_401(project: Path) -> None:
    auth = ":".join(OPERATOR)
    with serving(project, "--auth", auth, "--viewer", ":".join(VIEWER)) as url:
        anonymous = httpx.get(f"{url}/")
        signed_in = httpx.get(f"{url}/queues", auth=OPERATOR)
        viewer = httpx.get(f"{url}/queues", auth=VIEWER)
    assert anonymous.status_code == 401
    assert "Basic" in anonymous.headers["www-authenticate"]
    assert signed_in.status_code == 200
    assert "emails" in signed_in.text
    assert ">Pause</button>" in signed_in.text
    assert viewer.status_code == 200
    assert ">Pause</button>" not in viewer.text


def test_credentials_may_come_from_the_environment(project: Path) -> None:
    env = environment(CONVEYOR_DASHBOARD_AUTH="env-user:env:pass")
    with serving(project, "--host", "127.0.0.1", env=env) as url:
        assert httpx.get(f"{url}/").status_code == 401
        assert httpx.get(f"{url}/", auth=("env-user", "env:pass")).status_code == 200
        token = "Basic " + base64.b64encode(b"env-user:env:wrong").decode()
        assert httpx.get(f"{url}/", headers={"Authorization": token}).status_code == 401


def test_on_loopback_it_opens_without_credentials_for_this_machine_only(project: Path) -> None:
    with serving(project) as url:
        assert url.startswith("http://127.0.0.1:")
        page = httpx.get(f"{url}/")
        rebound = httpx.get(f"{url}/", headers={"Host": "attacker.example"})
    assert page.status_code == 200
    assert "anonymous" in page.text
    assert rebound.status_code == 400


def test_read_only_serves_pages_without_actions(project: Path) -> None:
    with serving(project, "--read-only") as url:
        page = httpx.get(f"{url}/queues")
    assert page.status_code == 200
    assert "read-only" in page.text
    assert ">Pause</button>" not in page.text


def test_a_taken_port_fails_in_one_line(project: Path) -> None:
    with serving(project) as url:
        port = url.rsplit(":", 1)[1]
        done = subprocess.run(
            command("--port", port), cwd=project, env=environment(), capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"cannot serve the dashboard on 127.0.0.1:{port}" in done.stderr
