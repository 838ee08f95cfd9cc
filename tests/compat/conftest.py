"""Fixtures of the compatibility tests: stores of each backend, and the ARQ example app
(at the repository root, outside the package: the root goes on sys.path to import it)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from live_services import fresh_postgres, fresh_redis

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXAMPLE = "examples.arq_migration.app"


def store_url(backend: str, tmp_path: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "redis":
        return fresh_redis()
    return f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend a worker in this process can share."""
    return store_url(request.param, tmp_path)


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store that another process (a worker) can open too."""
    if request.param == "postgres":
        with fresh_postgres() as url:  # a schema of its own, dropped after the test
            yield url
    else:
        yield store_url(request.param, tmp_path)


def import_example(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The ARQ example app, imported afresh with REDIS_DSN naming `url`, as its users
    would deploy it."""
    monkeypatch.setenv("REDIS_DSN", url)
    sys.modules.pop(EXAMPLE, None)
    try:
        yield importlib.import_module(EXAMPLE)
    finally:
        sys.modules.pop(EXAMPLE, None)


@pytest.fixture
def example(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    yield from import_example(url, monkeypatch)


@pytest.fixture
def shared_example(shared_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    yield from import_example(shared_url, monkeypatch)
