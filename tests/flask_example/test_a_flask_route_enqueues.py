"""The Flask example: a route enqueues with `enqueue_sync`; the plugin's fixtures drain the
job in the test, and a real worker process runs it from a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from flask.testing import FlaskClient

from conveyor import Conveyor, JobState
from conveyor.testing import IsolatedApp, assert_enqueued, isolated

ROOT = Path(__file__).resolve().parents[2]
BURST = ["--burst"]  # the worker exits once no job is due


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # the examples live outside the package
    import examples.flask_app

    return examples.flask_app


@pytest.fixture
def conveyor_app(example: ModuleType) -> Conveyor:
    """The plugin's fixtures test the example's app."""
    app: Conveyor = example.tasks.conveyor
    return app


@pytest.fixture
def client(example: ModuleType) -> FlaskClient:
    client: FlaskClient = example.create_app().test_client()
    return client


def test_a_signup_enqueues_a_welcome_email(
    client: FlaskClient, conveyor_jobs: IsolatedApp, example: ModuleType
) -> None:
    answer = client.post("/signup", json={"email": "ada@example.com"})

    assert answer.status_code == 202
    job = assert_enqueued(example.tasks.send_welcome, "ada@example.com")
    assert answer.json == {"job_id": job.id}
    [ran] = conveyor_jobs.drain_sync()
    assert (ran.id, ran.state) == (job.id, JobState.SUCCEEDED)
    assert ran.result == {"to": "ada@example.com", "status": "sent"}


def test_a_bad_signup_enqueues_nothing(client: FlaskClient, conveyor_jobs: IsolatedApp) -> None:
    answer = client.post("/signup", json={"email": "nobody"})

    assert answer.status_code == 400
    assert conveyor_jobs.enqueued() == []


def test_a_worker_process_beside_the_app_runs_the_job(
    client: FlaskClient, example: ModuleType, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with isolated(example.tasks.conveyor, url):
        answer = client.post("/signup", json={"email": "bob@example.com"})
        assert answer.status_code == 202
        assert answer.json is not None
        job = example.tasks.conveyor.job(answer.json["job_id"])

        worker = subprocess.run(
            [
                sys.executable,
                "-m",
                "conveyor",
                "worker",
                "examples.flask_app.tasks:conveyor",
                *BURST,
            ],
            cwd=ROOT,
            env={**os.environ, "CONVEYOR_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert worker.returncode == 0, worker.stderr
        assert job.result_sync(timeout=10) == {"to": "bob@example.com", "status": "sent"}
