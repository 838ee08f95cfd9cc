"""The oracle: what really ran, read from the tasks' own log, judged against the store.

The tasks of `jobsapp` log every execution's start and end outside the queue under test.
After a run, every job whose enqueue returned is classified the way Jepsen's total-queue
checker does:

- lost: its final state is not `succeeded`, or no execution of it ever ran to the end;
- duplicated: more than one execution ran to the end;
- unexpected: an execution of a job that was never enqueued;
- fine: everything else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

from conveyor.job import JobRecord, JobState

from .jobsapp import BLOCK, CANCEL, END, START

KINDS = frozenset({START, END, CANCEL, BLOCK})


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    kind: str
    job_id: str
    pid: int
    attempt: int
    at_ns: int  # time.monotonic_ns(): one clock for every process of the machine


@dataclasses.dataclass(slots=True)
class Execution:
    """One run of a job's handler by one process, from its start line on."""

    job_id: str
    pid: int
    attempt: int
    started_ns: int
    ended_ns: int | None = None  # the handler returned
    cancelled_ns: int | None = None  # the handler was cancelled
    blocked_ns: int | None = None  # `stall` began holding the event loop

    @property
    def completed(self) -> bool:
        return self.ended_ns is not None

    def stopped_ns(self, deaths: Mapping[int, int]) -> int | None:
        """When it stopped: returned, cancelled, or its process died; None if it may run on."""
        if self.ended_ns is not None:
            return self.ended_ns
        if self.cancelled_ns is not None:
            return self.cancelled_ns
        return deaths.get(self.pid)


def read_events(path: Path) -> list[Event]:
    if not path.exists():
        return []
    events = []
    # a line without its newline is still being written (a write across a page boundary is
    # seen in two steps), or was cut by its writer's SIGKILL: either way it is not an event
    *lines, _being_written = path.read_text().split("\n")
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if len(fields) != 5 or fields[0] not in KINDS:
            raise AssertionError(f"{path}:{number}: malformed oracle line {line!r}")
        kind, job_id, pid, attempt, at_ns = fields
        events.append(Event(kind, job_id, int(pid), int(attempt), int(at_ns)))
    return events


def executions(events: Iterable[Event]) -> dict[str, list[Execution]]:
    """Every job's executions in start order; later events attach to their own start."""
    runs: dict[str, list[Execution]] = {}
    open_runs: dict[tuple[str, int, int], Execution] = {}
    for event in events:
        key = (event.job_id, event.pid, event.attempt)
        if event.kind == START:
            run = Execution(event.job_id, event.pid, event.attempt, event.at_ns)
            runs.setdefault(event.job_id, []).append(run)
            open_runs[key] = run
            continue
        current = open_runs.get(key)
        if current is None:
            raise AssertionError(f"oracle: {event.kind} without a start: {event}")
        if event.kind == BLOCK:
            current.blocked_ns = event.at_ns
            continue
        del open_runs[key]
        if event.kind == END:
            current.ended_ns = event.at_ns
        else:
            current.cancelled_ns = event.at_ns
    for job_runs in runs.values():
        job_runs.sort(key=lambda run: run.started_ns)
    return runs


@dataclasses.dataclass(slots=True)
class Verdict:
    lost: dict[str, str] = dataclasses.field(default_factory=dict)  # job id -> why
    duplicated: dict[str, int] = dataclasses.field(default_factory=dict)  # job id -> completions
    unexpected: set[str] = dataclasses.field(default_factory=set)
    fine: set[str] = dataclasses.field(default_factory=set)

    @property
    def nothing_lost(self) -> bool:
        """No job lost, and nothing ran that was never enqueued."""
        return not self.lost and not self.unexpected

    def summary(self, limit: int = 10) -> str:
        lost = dict(list(self.lost.items())[:limit])
        duplicated = dict(list(self.duplicated.items())[:limit])
        return (
            f"{len(self.fine)} fine, {len(self.lost)} lost {lost}, "
            f"{len(self.duplicated)} duplicated {duplicated}, "
            f"{len(self.unexpected)} unexpected {sorted(self.unexpected)[:limit]}"
        )


def classify(
    enqueued: Iterable[str],
    records: Mapping[str, JobRecord],
    runs: Mapping[str, list[Execution]],
) -> Verdict:
    verdict = Verdict()
    wanted = set(enqueued)
    for job_id in sorted(wanted):
        record = records.get(job_id)
        completions = sum(run.completed for run in runs.get(job_id, []))
        if record is None:
            verdict.lost[job_id] = "no record in the store"
        elif record.state is not JobState.SUCCEEDED:
            verdict.lost[job_id] = f"state {record.state.value}"
        elif completions == 0:
            verdict.lost[job_id] = "succeeded, but no execution ran to the end"
        elif completions > 1:
            verdict.duplicated[job_id] = completions
        else:
            verdict.fine.add(job_id)
    verdict.unexpected = set(runs) - wanted
    return verdict


def overlaps(
    runs: Mapping[str, list[Execution]], deaths: Mapping[int, int] | None = None
) -> dict[str, tuple[Execution, Execution]]:
    """Jobs with two executions alive at once (a dead process's execution ends at its death)."""
    deaths = deaths or {}
    found: dict[str, tuple[Execution, Execution]] = {}
    for job_id, job_runs in runs.items():
        latest: Execution | None = None  # the earlier run that stopped last (None: runs on)
        latest_stop = 0
        for run in job_runs:  # in start order
            if latest is not None and latest_stop > run.started_ns:
                found[job_id] = (latest, run)
                break
            stopped = run.stopped_ns(deaths)
            stop = 2**63 if stopped is None else stopped
            if latest is None or stop > latest_stop:
                latest, latest_stop = run, stop
    return found


def started_before(
    runs: dict[str, list[Execution]], at_ns: int, pid: int | None = None
) -> set[str]:
    """Jobs with an execution (by `pid`, if given) that started before `at_ns`."""
    return {
        job_id
        for job_id, job_runs in runs.items()
        if any(run.started_ns < at_ns and pid in (None, run.pid) for run in job_runs)
    }
