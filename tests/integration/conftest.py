"""Fixtures of the integration tests: a fresh app per test, once per backend."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from live_services import fresh_postgres, fresh_redis

from .cli_support import APP_SOURCE, Project

BACKENDS = ["memory", "sqlite", "redis", "postgres"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "redis":
        yield fresh_redis()
    elif request.param == "postgres":
        with fresh_postgres() as url:  # a schema of its own, dropped after the test
            yield url
    else:
        yield f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture
async def app(url: str) -> AsyncIterator[Conveyor]:
    """An app with no tasks yet, on a fresh store; each test registers the tasks it needs."""
    conveyor = Conveyor(url)
    try:
        yield conveyor
    finally:
        await conveyor.close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project folder holding an app module on an SQLite file; the CLI runs from there."""
    module = f"cli_app_{uuid.uuid4().hex[:12]}"
    url = f"sqlite:///{tmp_path}/jobs.db"
    (tmp_path / f"{module}.py").write_text(APP_SOURCE.format(url=url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # restores sys.path, which the loader extends
    try:
        yield Project(tmp_path, module, url)
    finally:
        sys.modules.pop(module, None)
