"""Backends, chosen by URL scheme."""

from __future__ import annotations

import urllib.parse

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError


def from_url(url: str) -> Backend:
    """The backend a URL names: memory://, sqlite:///path.db (redis and postgresql to come)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "memory":
        from conveyor.backends.memory import MemoryBackend

        return MemoryBackend(url)
    if scheme == "sqlite":
        from conveyor.backends.sqlite import SQLiteBackend

        return SQLiteBackend(url)
    raise ConfigurationError(
        f"unsupported backend URL {url!r}: use memory:// or sqlite:///path/to/jobs.db"
    )


__all__ = ["Backend", "from_url"]
