"""What the pages show of a job's values: decoded, secrets redacted, pretty; and times.

Arguments are decoded with the task's own codec, so values come back with their types
(pydantic models, `SecretStr`...), and are shown as JSON with every secret replaced, by the
rule of `conveyor.redact` shared with the CLI. A payload whose task this process does not
know is read as plain JSON, with the same rule.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

from conveyor.app import Conveyor
from conveyor.encryption import is_sealed
from conveyor.errors import SerializationError
from conveyor.job import JobRecord
from conveyor.redact import Redactor, readable_arguments
from conveyor.sealing import ENCRYPTED, shown
from conveyor.serialization import ANY_VALUE

SHOWN_TEXT = 200_000  # characters of a value shown before it is cut
NO_KEY = "stored encrypted: this app holds no key that decrypts it"


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """A value as a page shows it: pretty JSON (secrets redacted), or why it could not be
    read as its task's."""

    text: str
    note: str | None = None  # e.g. "the task is not registered here: shown as plain JSON"


def pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    return text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT] + "\n... (cut)"


class Presenter:
    """Decodes a job's arguments, result and checkpoint for the page."""

    def __init__(self, conveyor: Conveyor, redactor: Redactor) -> None:
        self.conveyor = conveyor
        self.redactor = redactor

    def visible(self, record: JobRecord) -> JobRecord:
        """A stored record as the page shows it: what the app's keys open decrypted, and
        "encrypted" for the texts they do not (the values below say it themselves)."""
        record = self.conveyor.readable(record)
        if record.progress_message is not None:
            record.progress_message = shown(record.progress_message)
        record.headers = {name: shown(value) for name, value in record.headers.items()}
        return record

    def arguments(self, record: JobRecord) -> Shown:
        if is_sealed(record.payload):
            return Shown(ENCRYPTED, NO_KEY)
        task = self.conveyor.find_task(record.task)
        value, note = readable_arguments(record, task, self.redactor)
        if value is None:
            return Shown(self._not_json(record.payload), note)
        return Shown(pretty(value), note)

    def result(self, record: JobRecord) -> Shown | None:
        if record.result is None:
            return None
        if is_sealed(record.result):
            return Shown(ENCRYPTED, NO_KEY)
        try:
            value = self.conveyor.decode_result(record)
        except SerializationError as exc:
            return self._json(record.result, f"it does not fit the task's return type ({exc})")
        return Shown(pretty(self.redactor.plain(value)))

    def checkpoint(self, record: JobRecord) -> Shown | None:
        if record.checkpoint is None:
            return None
        if is_sealed(record.checkpoint):
            return Shown(ENCRYPTED, NO_KEY)
        return self._json(record.checkpoint, None)

    def _json(self, data: bytes, note: str | None) -> Shown:
        try:
            value = ANY_VALUE.decode(data)
        except SerializationError:
            return Shown(self._not_json(data), note)
        return Shown(pretty(self.redactor.plain(value)), note)

    def _not_json(self, data: bytes) -> str:
        return f"<{len(data)} bytes that are not JSON: not shown, they may hold secrets>"


# -- times ---------------------------------------------------------------------------------


def utc(epoch: float | None) -> str:
    """ISO 8601 in UTC, to the second: what a `<time datetime>` holds."""
    if epoch is None:
        return ""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def clock(epoch: float | None) -> str:
    """A readable UTC time: 2026-05-01 12:00:03 UTC."""
    if epoch is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def zoned(epoch: float | None, zone: datetime.tzinfo) -> str:
    """A time in a schedule's timezone: 2026-05-02 03:00 CEST."""
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M %Z")


def duration(seconds: float | None) -> str:
    """3 s, 4 min 10 s, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    for unit, size, smaller, smaller_size in (
        ("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1),
    ):  # fmt: skip
        if whole >= size:
            rest = (whole % size) // smaller_size
            return f"{whole // size} {unit}" + (f" {rest} {smaller}" if rest else "")
    return f"{whole} s"


def ago(epoch: float | None, now: float) -> str:
    """How long before (or after) `now`: "12 s ago", "in 3 min"."""
    if epoch is None:
        return "-"
    delta = now - epoch
    if -1 < delta < 1:
        return "now"
    return f"{duration(delta)} ago" if delta > 0 else f"in {duration(-delta)}"
