"""Fixtures of the fault suite: a `Harness` per test, on every backend in `BACKENDS`.

A backend joins the suite by adding its name here and a branch to `store_url`; tests of a
fault specific to one store (SQLite's file) skip on the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .harness import Harness

BACKENDS = ["sqlite"]


def store_url(name: str, directory: Path) -> str:
    """A URL naming a fresh, empty store of the backend `name`, shared by processes."""
    if name == "sqlite":
        return f"sqlite:///{directory}/jobs.db"
    raise LookupError(f"no fault-suite URL for backend {name!r}")


@pytest.fixture(params=BACKENDS)
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """A fresh store and oracle log; every process the test starts is killed afterwards."""
    instance = Harness(tmp_path, store_url(request.param, tmp_path))
    await instance.jobs.app.open()  # creates the schema before any worker starts
    try:
        yield instance
    finally:
        await instance.close()
