"""The real services that backend tests talk to, and what to do when one is missing.

Locally a missing service skips its tests; in CI (CI=true) it fails them, because a
skipped backend test is not a passing one.
"""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URL = os.environ.get("CONVEYOR_TEST_REDIS", "redis://127.0.0.1:6379/9")


def missing(service: str, why: object) -> None:
    message = f"{service} is not reachable ({why}); start it, or run without CI=true to skip"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def fresh_redis() -> str:
    """The test Redis database, emptied; fails (CI) or skips when Redis is down."""
    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.close()
    except redis.exceptions.ConnectionError as exc:
        missing("Redis", exc)
    return REDIS_URL
