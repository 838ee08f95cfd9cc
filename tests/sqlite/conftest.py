"""Fixtures of the SQLite backend's own tests: a fresh store, its statements recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.backends.sqlite import SQLiteBackend

from .support import Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def store(
    tmp_path: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SQLiteBackend]:
    """An open backend over a fresh file whose connections report to `recorder`."""
    backend = SQLiteBackend(f"sqlite:///{tmp_path}/jobs.db")
    connect = backend._connect

    def recorded() -> sqlite3.Connection:
        conn = connect()
        recorder.attach(conn)
        return conn

    monkeypatch.setattr(backend, "_connect", recorded)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
