"""The jobs page's filters, as they travel in its query string (and in batch-action forms).

`?state=failed&queue=q&task=t&id=prefix&since=2h&until=2026-05-01T12:00Z&cursor=...`:
times are epoch seconds, ISO 8601 (UTC when no offset is given), or an age such as 90s,
15m, 2h, 7d (that long before now, on the store's clock).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import urllib.parse
from collections.abc import Mapping

from conveyor.backends.base import JobFilter
from conveyor.job import JobState

PAGE_SIZES = (25, 50, 100, 200, 500)
DEFAULT_PAGE = 50
AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FIELDS = ("state", "queue", "task", "id", "since", "until")


class BadFilter(ValueError):
    """A filter the page cannot use; the message says which and why."""


@dataclasses.dataclass(frozen=True, slots=True)
class JobQuery:
    """The filters as given (`text`, echoed back into the form and links) and as read."""

    text: Mapping[str, str]
    state: JobState | None = None
    queue: str | None = None
    task: str | None = None
    id_prefix: str | None = None
    since: float | None = None
    until: float | None = None
    cursor: str | None = None
    limit: int = DEFAULT_PAGE

    def job_filter(self, *, cursor: str | None = None, limit: int | None = None) -> JobFilter:
        return JobFilter(
            queue=self.queue,
            state=self.state,
            task=self.task,
            limit=self.limit if limit is None else limit,
            id_prefix=self.id_prefix,
            since=self.since,
            until=self.until,
            cursor=cursor,
        )

    @property
    def given(self) -> dict[str, str]:
        """The filters given, without the paging."""
        return {key: value for key, value in self.text.items() if key in FIELDS and value}

    def link(self, **changes: str | None) -> str:
        """This query's string with some parameters changed (None drops one)."""
        params: dict[str, str] = dict(self.given)
        if self.limit != DEFAULT_PAGE:
            params["limit"] = str(self.limit)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return urllib.parse.urlencode(params)

    def describe(self) -> str:
        """The filters in words: "state=failed, queue=emails", or "every job"."""
        return ", ".join(f"{key}={value}" for key, value in self.given.items()) or "every job"


def parse(params: Mapping[str, str], now: float) -> JobQuery:
    """Read the filters from a query string (or form); BadFilter names what is wrong."""
    text = {key: params[key].strip() for key in (*FIELDS, "cursor", "limit") if key in params}
    state = None
    if text.get("state"):
        try:
            state = JobState(text["state"])
        except ValueError:
            states = ", ".join(s.value for s in JobState)
            raise BadFilter(f"state must be one of {states}; got {text['state']!r}") from None
    limit = DEFAULT_PAGE
    if text.get("limit"):
        if not text["limit"].isdigit() or int(text["limit"]) not in PAGE_SIZES:
            sizes = ", ".join(str(size) for size in PAGE_SIZES)
            raise BadFilter(f"limit must be one of {sizes}; got {text['limit']!r}")
        limit = int(text["limit"])
    for key in ("queue", "task", "id"):
        if len(text.get(key, "")) > 200:
            raise BadFilter(f"{key} is longer than 200 characters")
    since = moment(text.get("since", ""), now, "since")
    until = moment(text.get("until", ""), now, "until")
    if since is not None and until is not None and since >= until:
        raise BadFilter("since must be before until")
    return JobQuery(
        text=text,
        state=state,
        queue=text.get("queue") or None,
        task=text.get("task") or None,
        id_prefix=text.get("id") or None,
        since=since,
        until=until,
        cursor=text.get("cursor") or None,
        limit=limit,
    )


def moment(text: str, now: float, name: str) -> float | None:
    """Epoch seconds from "1714567890", "2026-05-01T12:00:00Z", "2026-05-01 12:00" (UTC)
    or an age before `now`: "90s", "15m", "2h", "7d"."""
    if not text:
        return None
    age = AGE.match(text.lower())
    if age is not None:
        return now - float(age[1]) * UNIT_SECONDS[age[2]]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise BadFilter(
            f"{name} must be a time such as 2026-05-01T12:00Z (UTC unless an offset is "
            f"given), epoch seconds, or an age such as 15m, 2h or 7d; got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()
