"""Fixtures of the tracing tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from live_services import fresh_postgres, fresh_redis


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh store that several processes can share."""
    if request.param == "redis":
        yield fresh_redis()
    elif request.param == "postgres":
        with fresh_postgres() as url:  # a schema of its own, dropped after the test
            yield url
    else:
        yield f"sqlite:///{tmp_path}/jobs.db"
