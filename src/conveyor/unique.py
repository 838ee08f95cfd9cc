"""Unique jobs: `unique=` turns a task's same-argument enqueues into one job for a while.

The key is the task's name and a digest of its encoded arguments, so two enqueues of one
call share it. What releases the key is the backend's rule (see `JobRecord.unique_key`).
"""

from __future__ import annotations

import datetime
from typing import Literal

from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord, UniqueUntil

# "until_started": one pending job per call; "until_finished": one pending or running;
# a timedelta: one per call for that long after it was enqueued, however it ends
Unique = Literal["until_started", "until_finished"] | datetime.timedelta

_MODES = {"until_started": UniqueUntil.STARTED, "until_finished": UniqueUntil.FINISHED}


def check_unique(unique: object, where: str) -> None:
    if unique is None or unique in _MODES:
        return
    if isinstance(unique, datetime.timedelta) and unique.total_seconds() > 0:
        return
    raise ConfigurationError(
        f"{where}: unique must be 'until_started', 'until_finished' or a positive "
        f"timedelta, got {unique!r}"
    )


def make_unique(record: JobRecord, unique: Unique) -> None:
    """Give the record its unique key and the rule that releases it."""
    import hashlib  # a cached lookup; a worker whose jobs are not unique never loads it

    digest = hashlib.sha256(record.payload).hexdigest()[:32]
    record.unique_key = f"{record.task}:{digest}"
    if isinstance(unique, datetime.timedelta):
        record.unique_for = unique.total_seconds()
    else:
        record.unique_until = _MODES[unique]
