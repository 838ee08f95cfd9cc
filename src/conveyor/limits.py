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

from conveyor.backends.base import MAX_LIMIT, MAX_LIMIT_KEY, MAX_RATE_PERIOD, is_count
from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


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
    period = int(match[2] or 1) * UNITS[match[3]] if match else 0.0
    if not is_count(count) or not 0 < period <= MAX_RATE_PERIOD:
        raise ConfigurationError(
            f"{where}: rate_limit must read like '100/m': 1 to {MAX_LIMIT} jobs per s, m, h "
            f"or d, or per n of them up to a year (as '5/10s'), got {rate_limit!r}"
        )
    return count, period


def check_limits(
    name: str, concurrency: object, concurrency_key: object, rate_limit: object
) -> None:
    """Check a task's limits where it is defined."""
    where = f"task {name!r}"
    if concurrency is not None and not is_count(concurrency):
        raise ConfigurationError(
            f"{where}: concurrency must be a whole number from 1 to {MAX_LIMIT} (jobs running "
            f"at once across every worker), got {concurrency!r}"
        )
    limited = concurrency is not None or rate_limit is not None
    if limited and len(name) > MAX_LIMIT_KEY // 2:
        raise ConfigurationError(
            f"{where}: a task with limits needs a name of at most {MAX_LIMIT_KEY // 2} "
            "characters (it names the limit): pass @app.task(name=...)"
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
            key = _key(concurrency_key, arguments, where, MAX_LIMIT_KEY - len(record.task) - 1)
            record.limit_key = f"{record.task}:{key}"
    if rate_limit is not None:
        record.rate_key = record.task
        record.rate_limit, record.rate_period = parse_rate(rate_limit, where)


def _key(rule: Callable[..., Any], arguments: Mapping[str, Any], where: str, longest: int) -> str:
    try:
        key = rule(**arguments)  # every argument, defaults included
    except TypeError as exc:
        raise ConfigurationError(
            f"{where}: its concurrency_key could not be called with the task's arguments "
            f"({exc}); take them by name, and **_ for the ones it does not need"
        ) from None
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not 0 < len(key) <= longest:
        raise ConfigurationError(
            f"{where}: its concurrency_key must return a str (or int) of 1 to {longest} "
            f"characters (the limit is named '<task>:<key>', {MAX_LIMIT_KEY} at most), "
            f"got {key!r}"
        )
    return key
