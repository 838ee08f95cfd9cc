"""What the pages show of a job's values: decoded, secrets redacted, pretty; and times.

Arguments are decoded with the task's own codec, so values come back with their types
(pydantic models, `SecretStr`...), and are shown as JSON with every secret replaced: a
`SecretStr`/`SecretBytes` value, and any value under a key that names a secret (password,
token, api_key, authorization...). A payload whose task this process does not know is read
as plain JSON, with the same key rule.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic

from conveyor.app import Conveyor
from conveyor.errors import SerializationError
from conveyor.job import JobRecord
from conveyor.serialization import ANY_VALUE

REDACTED = "[redacted]"
# A key names a secret when, compared without case, "_" or "-", it holds one of these
# (api_key, X-Api-Key and apiKey all hold "apikey")...
SECRET_FRAGMENTS = (
    "password", "passwd", "secret", "apikey", "authorization", "credential", "privatekey",
    "accesskey",
)  # fmt: skip
# ...or one of its words is one of these (access_token, authToken, auth; not max_tokens,
# author)
SECRET_WORDS = frozenset({"token", "auth", "pwd", "cookie", "session", "signature", "jwt"})
SHOWN_BYTES = 64  # of a bytes value, the leading bytes shown (as base64)
SHOWN_TEXT = 200_000  # characters of a value shown before it is cut


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """A value as a page shows it: pretty JSON (secrets redacted), or why it could not be
    read as its task's."""

    text: str
    note: str | None = None  # e.g. "the task is not registered here: shown as plain JSON"


class Redactor:
    """Replaces secrets inside decoded values."""

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        fragments = [*SECRET_FRAGMENTS, *(_squash(key) for key in extra_keys)]
        self._pattern = re.compile("|".join(re.escape(f) for f in fragments if f))

    def is_secret_key(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if self._pattern.search(_squash(key)) is not None:
            return True
        return any(word.lower() in SECRET_WORDS for word in WORDS.findall(key))

    def plain(self, value: Any, depth: int = 0) -> Any:
        """`value` as JSON-ready data, every secret replaced by REDACTED."""
        if depth > 50:
            return "..."
        if isinstance(value, pydantic.SecretStr | pydantic.SecretBytes | pydantic.Secret):
            return REDACTED
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, pydantic.BaseModel):
            fields = {name: getattr(value, name) for name in type(value).model_fields}
            return self._mapping(fields, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self._mapping(fields, depth)
        if isinstance(value, Mapping):
            return self._mapping(value, depth)
        if isinstance(value, list | tuple | set | frozenset):
            return [self.plain(item, depth + 1) for item in value]
        if isinstance(value, bytes | bytearray):
            shown = base64.b64encode(bytes(value[:SHOWN_BYTES])).decode()
            more = "..." if len(value) > SHOWN_BYTES else ""
            return f"<{len(value)} bytes: {shown}{more}>"
        if isinstance(value, enum.Enum):
            return self.plain(value.value, depth + 1)
        if isinstance(value, datetime.datetime | datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, uuid.UUID | decimal.Decimal | datetime.timedelta):
            return str(value)
        return repr(value)

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        return {
            str(key): REDACTED if self.is_secret_key(key) else self.plain(item, depth + 1)
            for key, item in value.items()
        }

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: REDACTED if self.is_secret_key(k) else v for k, v in sorted(headers.items())}


WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")  # snake_case, kebab-case, camelCase


def _squash(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    return text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT] + "\n... (cut)"


class Presenter:
    """Decodes a job's arguments, result and checkpoint for the page."""

    def __init__(self, conveyor: Conveyor, redactor: Redactor) -> None:
        self.conveyor = conveyor
        self.redactor = redactor

    def arguments(self, record: JobRecord) -> Shown:
        task = self.conveyor.find_task(record.task)
        if task is not None:
            try:
                return Shown(pretty(self.redactor.plain(task.codec.decode(record.payload))))
            except SerializationError as exc:
                note = f"they do not fit the task's signature ({exc}): shown as plain JSON"
                return self._json(record.payload, note)
        return self._json(record.payload, "the task is not registered here: shown as plain JSON")

    def result(self, record: JobRecord) -> Shown | None:
        if record.result is None:
            return None
        try:
            value = self.conveyor.decode_result(record)
        except SerializationError as exc:
            return self._json(record.result, f"it does not fit the task's return type ({exc})")
        return Shown(pretty(self.redactor.plain(value)))

    def checkpoint(self, record: JobRecord) -> Shown | None:
        if record.checkpoint is None:
            return None
        return self._json(record.checkpoint, None)

    def _json(self, data: bytes, note: str | None) -> Shown:
        try:
            value = ANY_VALUE.decode(data)
        except SerializationError:
            return Shown(
                f"<{len(data)} bytes that are not JSON: not shown, they may hold secrets>",
                note,
            )
        return Shown(pretty(self.redactor.plain(value)), note)


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
