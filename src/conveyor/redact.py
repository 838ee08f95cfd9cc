"""Backend URLs as messages and logs may show them: without their passwords."""

from __future__ import annotations

import urllib.parse


def redacted_url(url: str) -> str:
    """`url` with the password of its user part replaced by `***`."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
