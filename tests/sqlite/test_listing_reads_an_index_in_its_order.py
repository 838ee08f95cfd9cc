"""A listing reads one index in the order of its pages, from the top and only as far as the
page needs: a page's cost follows the page, not the history kept (1M finished jobs, say)."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor.backends.base import JobFilter
from conveyor.backends.sqlite import SQLiteBackend
from conveyor.job import JobRecord, JobState

from .support import Recorder, add_finished, plan

FAILED, OK = JobState.FAILED, JobState.SUCCEEDED
WALK = "SELECT enqueued_at, seq FROM conveyor_jobs"  # how each walk of a listing begins


def job(job_id: str, queue: str = "a", task: str = "busy", delay: float = 0.0) -> JobRecord:
    return JobRecord(id=job_id, task=task, queue=queue, payload=b"{}", delay=delay)


async def walks(store: SQLiteBackend, recorder: Recorder, query: JobFilter) -> list[list[str]]:
    """The plans of the index walks `page_jobs(query)` ran."""
    with recorder.recording():
        await store.page_jobs(query)
    return [
        plan(store, statement) for statement in recorder.statements if statement.startswith(WALK)
    ]


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (JobFilter(), "conveyor_jobs_state"),
        (JobFilter(state=FAILED), "conveyor_jobs_state"),
        (JobFilter(state=FAILED, queue="a"), "conveyor_jobs_state"),
        (JobFilter(state=JobState.QUEUED), "conveyor_jobs_state"),
        (JobFilter(queue="b"), "conveyor_jobs_state"),
        (JobFilter(task="busy"), "conveyor_jobs_task"),
        (JobFilter(task="busy", since=1000.0, until=5000.0), "conveyor_jobs_task"),
        (
            JobFilter(state=FAILED, since=1000.0, until=5000.0, cursor="1010.0:7"),
            "conveyor_jobs_state",
        ),
        (JobFilter(worker="w", since=1000.0), "conveyor_jobs_state"),
    ],
)
async def test_every_walk_searches_its_index_in_page_order(
    store: SQLiteBackend, recorder: Recorder, query: JobFilter, index: str
) -> None:
    add_finished(store, [(f"f-{i}", "ab"[i % 2], "busy", "failed") for i in range(20)])
    await store.enqueue([job("q-1"), job("s-1", queue="b", delay=60)])

    found = await walks(store, recorder, query)

    assert found, "the listing walked no index"
    for steps in found:
        # each walk is a search of its index's range, in the index's order: no sort
        assert len(steps) == 1, steps
        assert steps[0].startswith(f"SEARCH conveyor_jobs USING INDEX {index} ("), steps


async def test_the_index_with_fewer_entries_to_read_is_walked(
    store: SQLiteBackend, recorder: Recorder
) -> None:
    busy = [(f"busy-{i}", "a", "busy", "succeeded") for i in range(300)]
    add_finished(
        store, [*busy, ("rare-1", "a", "rare", "succeeded"), ("dead-1", "a", "busy", "failed")]
    )

    async def walked(query: JobFilter) -> set[str]:
        return {steps[0].split()[4] for steps in await walks(store, recorder, query)}

    # 301 succeeded jobs, 1 of the rare task: the task's index
    assert await walked(JobFilter(state=OK, task="rare")) == {"conveyor_jobs_task"}
    # 301 jobs of the busy task, 1 failed: the state's
    assert await walked(JobFilter(state=FAILED, task="busy")) == {"conveyor_jobs_state"}
    # a few ids with this prefix: the id index, read whole and sorted
    [by_id] = await walks(store, recorder, JobFilter(id_prefix="rare-"))
    assert by_id == [
        "SEARCH conveyor_jobs USING INDEX sqlite_autoindex_conveyor_jobs_1 (id>? AND id<?)",
        "USE TEMP B-TREE FOR ORDER BY",
    ]
    # most ids have this prefix: a walk in page order finds a page as soon, checking the
    # ids on the rows
    assert await walked(JobFilter(id_prefix="b")) == {"conveyor_jobs_state"}
    assert await walked(JobFilter(id_prefix="")) == {"conveyor_jobs_state"}


async def test_a_page_costs_the_same_however_much_history_is_kept(
    store: SQLiteBackend, recorder: Recorder
) -> None:
    add_finished(store, [(f"f-{i}", "a", "rare", "failed") for i in range(60)])
    await store.enqueue([job(f"q-{i}", queue="b") for i in range(60)])
    queries = [
        JobFilter(state=FAILED, limit=20),
        JobFilter(state=FAILED, queue="a", limit=20),
        JobFilter(task="rare", limit=20),
        JobFilter(limit=20),
        JobFilter(queue="b", limit=20),
        JobFilter(state=JobState.QUEUED, limit=20),
    ]

    async def cost() -> list[int]:
        steps = []
        for query in queries:
            first = await store.page_jobs(query)
            with recorder.recording():
                await store.page_jobs(dataclasses.replace(query, cursor=first.next_cursor))
                await store.counts()
            steps.append(recorder.steps)
        return steps

    before = await cost()
    # 20,000 more finished jobs, of another task, newer than all the others
    history = [(f"ok-{i}", "a", "busy", "succeeded") for i in range(20_000)]
    add_finished(store, history, first_at=10**9)
    after = await cost()

    # a full read of the history would take thousands of steps of 100 instructions each
    for query, was, now in zip(queries, before, after, strict=True):
        assert now <= was + 20, (query, was, now)
