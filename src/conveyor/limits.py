"""Limits of a task: `concurrency=` and `rate_limit=`, turned into what the backend enforces.

`concurrency=5` lets at most 5 of the task's jobs run at once across every worker;
`concurrency_key=` splits that per key (a tenant, a user), so one key cannot take every
slot. `rate_limit="100/m"` starts at most 100 of the task's jobs a minute across every
worker, from a token bucket that holds 100 tokens and refills at that rate. The backend
checks both inside its claim: a held-back job waits, queued, without using an attempt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
MAX_KEY = 150  # characters of a concurrency key; the task's name comes before it


# the record's fields that carry its limits (a workflow step keeps them until it is stored)
LIMIT_FIELDS = ("limit_key", "limit", "rate_key", "rate_limit", "rate_period")


def limit_fields(record: JobRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in LIMIT_FIELDS}


def step_limits(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A stored step's limit fields (none in a step stored before limits existed)."""
    return {name: spec.get(name) for name in LIMIT_FIELDS}


def parse_rate(rate_limit: object, where: str) -> tuple[int, float]:
    """`"100/m"` as (100, 60.0): how many jobs may start per how many seconds."""
    match = _RATE.match(rate_limit) if isinstance(rate_limit, str) else None
    count = int(match[1]) if match else 0
    if match is None or count < 1 or match[2] == "0":
        raise ConfigurationError(
            f"{where}: rate_limit must read like '100/m': a positive number of jobs per "
            f"s, m, h or d (or per n of them, as '5/10s'), got {rate_limit!r}"
        )
    return count, int(match[2] or 1) * UNITS[match[3]]


def check_limits(
    concurrency: object, concurrency_key: object, rate_limit: object, where: str
) -> None:
    if concurrency is not None and (
        not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1
    ):
        raise ConfigurationError(
            f"{where}: concurrency must be a whole number >= 1 (jobs running at once across "
            f"every worker), got {concurrency!r}"
        )
    if concurrency_key is not None:
        if concurrency is None:
            raise ConfigurationError(
                f"{where}: concurrency_key needs concurrency=N, the number of jobs of one key "
                "that may run at once"
            )
        if not callable(concurrency_key):
            raise ConfigurationError(
                f"{where}: concurrency_key must be a function of the task's arguments that "
                f"returns the key, such as lambda user_id, **_: str(user_id); got "
                f"{concurrency_key!r}"
            )
    if rate_limit is not None:
        parse_rate(rate_limit, where)


def apply_limits(
    record: JobRecord,
    concurrency: int | None,
    concurrency_key: Callable[..., Any] | None,
    rate_limit: str | None,
    arguments: Mapping[str, Any],
) -> None:
    """Give the record the limit key and bucket its task's limits call for."""
    where = f"task {record.task!r}"
    if concurrency is not None:
        record.limit = concurrency
        record.limit_key = record.task
        if concurrency_key is not None:
            key = _key(concurrency_key, arguments, where)
            record.limit_key = f"{record.task}:{key}"
    if rate_limit is not None:
        record.rate_key = record.task
        record.rate_limit, record.rate_period = parse_rate(rate_limit, where)


def _key(rule: Callable[..., Any], arguments: Mapping[str, Any], where: str) -> str:
    try:
        key = rule(**arguments)
    except TypeError as exc:
        raise ConfigurationError(
            f"{where}: its concurrency_key could not be called with the task's arguments "
            f"({exc}); take them by name, and **_ for the ones it does not need"
        ) from None
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
        raise ConfigurationError(
            f"{where}: its concurrency_key must return a str (or int) of 1 to {MAX_KEY} "
            f"characters, got {key!r}"
        )
    return key
