"""What conveyor shows of secret things: URLs without passwords, values without secrets.

One rule for every reader (the dashboard, `conveyor jobs show`, log lines and stored
errors): a pydantic `SecretStr`/`SecretBytes`/`Secret` value, an argument the job names
secret (see `conveyor.secret_args`), and any value under a key that names a secret
(password, token, api_key, authorization...) are shown as REDACTED.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import functools
import re
import sys
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.errors import SerializationError
from conveyor.secret_args import SECRET_ARGS_HEADER, secret_names, secret_types
from conveyor.serialization import ANY_VALUE
from conveyor.workflow_records import CALLBACK_HEADER, NEXT_HEADER

if TYPE_CHECKING:
    from conveyor.job import JobError, JobRecord
    from conveyor.task import Task


def redacted_url(url: str) -> str:
    """`url` with the password of its user part replaced by `***`."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


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
LATER_ARGUMENTS = (NEXT_HEADER, CALLBACK_HEADER)  # a workflow's later steps, as JSON
SHOWN_BYTES = 64  # of a bytes value, the leading bytes shown (as base64)


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
        if isinstance(value, secret_types()):
            return REDACTED
        if value is None or isinstance(value, bool | int | float | str):
            return value
        pydantic = sys.modules.get("pydantic")  # a model's class imported it
        if pydantic is not None and isinstance(value, pydantic.BaseModel):
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
        if isinstance(value, _shown_as_text()):
            return str(value)
        return repr(value)

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        return {
            str(key): REDACTED if self.is_secret_key(key) else self.plain(item, depth + 1)
            for key, item in value.items()
        }

    def arguments(self, values: Any, headers: Mapping[str, str]) -> Any:
        """A job's decoded arguments as JSON-ready data: those its header names secret, and
        every secret inside the others, replaced by REDACTED."""
        if not isinstance(values, Mapping):
            return self.plain(values)
        secret = secret_names(headers)
        return {
            str(key): REDACTED if key in secret or self.is_secret_key(key) else self.plain(item, 1)
            for key, item in values.items()
        }

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: REDACTED if self._hides(k, v) else v for k, v in sorted(headers.items())}

    def _hides(self, header: str, value: str) -> bool:
        if header == SECRET_ARGS_HEADER:  # names, not values
            return False
        if header in LATER_ARGUMENTS:  # hidden whole when a later step has a secret argument
            return f'"{SECRET_ARGS_HEADER}"' in value
        return self.is_secret_key(header)


@functools.cache
def _shown_as_text() -> tuple[type, ...]:
    """The types shown by their str(): imported when a value is first shown, not by every
    process that imports the redactor."""
    import decimal
    import uuid

    return (uuid.UUID, decimal.Decimal, datetime.timedelta)


WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")  # snake_case, kebab-case, camelCase


def _squash(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def readable_arguments(
    record: JobRecord, task: Task[Any, Any] | None, redactor: Redactor
) -> tuple[Any, str | None]:
    """A job's arguments as JSON-ready data, redacted, decoded with the task's codec when
    the task is known (which restores its secret types); and a note when they could not
    be. None for arguments that are not JSON (they are not shown: they may hold secrets)."""
    note = None
    if task is not None:
        try:
            return redactor.arguments(task.codec.decode(record.payload), record.headers), None
        except SerializationError as exc:
            note = f"they do not fit the task's signature ({exc}): shown as plain JSON"
    else:
        note = "the task is not registered here: shown as plain JSON"
    try:
        return redactor.arguments(ANY_VALUE.decode(record.payload), record.headers), note
    except SerializationError:
        return None, note


def scrubbed(error: JobError, secrets: Sequence[str]) -> JobError:
    """`error` with the values in `secrets` cut out of its message and traceback."""
    if not secrets:
        return error
    trace = None if error.traceback is None else scrub(error.traceback, secrets)
    return dataclasses.replace(error, message=scrub(error.message, secrets), traceback=trace)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every occurrence of each secret value replaced by REDACTED."""
    for secret in sorted(set(secrets), key=len, reverse=True):  # "abcd" before "abc"
        text = text.replace(secret, REDACTED)
    return text
