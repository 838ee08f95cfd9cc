"""Backends, chosen by URL scheme."""

from __future__ import annotations

import urllib.parse

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError


def from_url(url: str) -> Backend:
    """The backend a URL names: memory://, sqlite:///path.db, redis://host:port/db,
    postgresql://user@host:port/dbname."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "memory":
        from conveyor.backends.memory import MemoryBackend

        return MemoryBackend(url)
    if scheme == "sqlite":
        from conveyor.backends.sqlite import SQLiteBackend

        return SQLiteBackend(url)
    if scheme in ("redis", "rediss"):
        from conveyor.backends.redis import RedisBackend

        return RedisBackend(url)
    if scheme in ("postgresql", "postgres"):
        from conveyor.backends.postgres import PostgresBackend

        return PostgresBackend(url)
    raise ConfigurationError(
        f"unsupported backend URL {url!r}: use memory://, sqlite:///path/to/jobs.db, "
        "redis://host:6379/0 or postgresql://user@host:5432/dbname"
    )


__all__ = ["Backend", "from_url"]
