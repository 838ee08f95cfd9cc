"""The one rule for the ids a user gives (job ids, workflow ids), the same on every backend.

An id is 1 to 200 printable characters: no NUL, newline or other control character, which
some stores refuse (PostgreSQL text cannot hold NUL) and every log line or terminal garbles.
It is checked where the id is given, so a bad one fails the call, never the store.
"""

from __future__ import annotations

import reprlib

from conveyor.errors import ConfigurationError

MAX_ID_LENGTH = 200


def id_problem(value: object, what: str, longest: int = MAX_ID_LENGTH) -> str | None:
    """Why `value` cannot be an id, in one line naming `what`; None when it can."""
    if isinstance(value, str) and 0 < len(value) <= longest and value.isprintable():
        return None
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
