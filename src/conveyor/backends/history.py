"""Each job's attempt history, as every backend keeps it: the attempts that ended, appended
where the outcome is written (the acknowledgement, or the sweep that takes a job back from a
dead worker) in the same write, the last `MAX_HISTORY` kept."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor.job import Attempt, JobError, JobRecord, JobState

MAX_HISTORY = 20  # a job retried by hand again and again keeps its latest attempts
NOTE_LENGTH = 200  # of an attempt's error: its type and the start of its message
LEASE_EXPIRED = "lease_expired"

# how an acknowledged attempt ended, by the job's next state; a job handed back unrun (queued)
# made no attempt
ACKED_OUTCOMES: dict[JobState, str] = {
    JobState.SUCCEEDED: "succeeded",
    JobState.FAILED: "failed",
    JobState.SCHEDULED: "retried",
    JobState.CANCELLED: "cancelled",
}


def note_of(error: JobError | None) -> str | None:
    """What an attempt's entry says of its error."""
    if error is None:
        return None
    text = f"{error.type}: {error.message}" if error.message else error.type
    return text[:NOTE_LENGTH]


def ended(record: JobRecord, outcome: str, now: float, error: JobError | None) -> None:
    """Append the attempt `record` is in to its history (the in-memory store's way)."""
    attempt = Attempt(
        number=record.attempts,
        worker=record.worker,
        started_at=record.started_at,
        ended_at=now,
        outcome=outcome,
        error=note_of(error),
    )
    record.history = (*record.history, attempt)[-MAX_HISTORY:]


def history_of(stored: str | bytes | Sequence[dict[str, Any]] | None) -> tuple[Attempt, ...]:
    """A history as a store keeps it, JSON text or a decoded list, as Attempts."""
    if not stored:
        return ()
    entries: Sequence[dict[str, Any]] = (
        json.loads(stored) if isinstance(stored, str | bytes) else stored
    )
    return tuple(Attempt.from_dict(entry) for entry in entries)
