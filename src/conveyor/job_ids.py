"""Job and workflow ids: the one rule for those a user gives, and the ones conveyor makes.

An id is 1 to 200 printable characters: no NUL, newline or other control character, which
some stores refuse (PostgreSQL text cannot hold NUL) and every log line or terminal garbles.
It is checked where the id is given, so a bad one fails the call, never the store.

An id conveyor makes is 32 lowercase hex digits: the milliseconds since the epoch in the
first 12, then 80 random bits. Ids made later sort later as text, so each store's id index
grows at its end (one page written, not a random page per job, however many jobs it holds),
and the random tail keeps them unguessable: no id can be worked out from another.
"""

from __future__ import annotations

import os
import reprlib
import time

from conveyor.errors import ConfigurationError

MAX_ID_LENGTH = 200
TIME_DIGITS = 12  # hex digits of milliseconds: enough until the year 10889
RANDOM_BYTES = 10

_last_millisecond = 0


def new_id() -> str:
    """A new id whose time part never goes back within this process, and whose tail is random."""
    global _last_millisecond
    # a wall clock stepped back never makes an id sort before one this process already made
    millisecond = max(time.time_ns() // 1_000_000, _last_millisecond)
    _last_millisecond = millisecond
    return f"{millisecond:0{TIME_DIGITS}x}{os.urandom(RANDOM_BYTES).hex()}"


def id_problem(value: object, what: str, longest: int = MAX_ID_LENGTH) -> str | None:
    """Why `value` cannot be an id, in one line naming `what`; None when it can."""
    if isinstance(value, str) and 0 < len(value) <= longest and value.isprintable():
        return None
    if isinstance(value, str) and not is_utf8(value):
        return (
            f"{what} {value!r} holds characters that are not valid UTF-8 text (a file name "
            "decoded with surrogates?): build it from text, or encode those bytes"
        )
    return (
        f"{what} must be a string of 1 to {longest} characters, all printable (no NUL, "
        f"newline or other control character), got {reprlib.repr(value)}"
    )


def check_id(value: object, what: str, longest: int = MAX_ID_LENGTH) -> str:
    """`value`, when it may be an id; else a ConfigurationError saying what an id may hold."""
    problem = id_problem(value, what, longest)
    if problem is not None:
        raise ConfigurationError(problem)
    assert isinstance(value, str)
    return value


def is_utf8(text: str) -> bool:
    """Whether `text` encodes as UTF-8: no lone surrogates, as a file name read with
    surrogateescape may hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
