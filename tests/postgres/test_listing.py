"""Listing jobs for the dashboard: each filter walks an index in listing order and stops
after a page, however many finished jobs the table holds; time bounds and id prefixes mean
exactly what the contract says, to the microsecond and the code point."""

from __future__ import annotations

import dataclasses
import re

import psycopg
import pytest

from conveyor.backends.base import JobFilter
from conveyor.backends.postgres import PostgresBackend
from conveyor.backends.postgres_rows import cursor_place
from conveyor.backends.postgres_sql import _past_prefix, listing
from conveyor.job import JobRecord, JobState

HISTORY = 50_000  # finished jobs behind every listing


def job(job_id: str, queue: str = "default", task: str = "tasks.work") -> JobRecord:
    return JobRecord(id=job_id, task=task, queue=queue, payload=b"{}")


@pytest.fixture
async def history(backend: PostgresBackend, conninfo: str) -> PostgresBackend:
    """A busy queue's finished jobs, some dead letters, a quiet queue and a rare task, an
    hour apart from the newest; and a few live jobs."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {backend.sql.jobs} (id, task, queue, state, payload, enqueued_at, "
            "due_at, finished_at, worker) "
            "SELECT md5(n::text), CASE WHEN n %% 1000 = 0 THEN 'tasks.rare' ELSE 'tasks.work' END, "
            "CASE WHEN n %% 500 = 0 THEN 'quiet' ELSE 'default' END, "
            "CASE WHEN n %% 100 = 0 THEN 'failed' ELSE 'succeeded' END, '', t, t, t, 'w' "
            "FROM generate_series(1, %s) AS n, "
            "LATERAL (SELECT now() - interval '2 days' + n * interval '1 s') AS at(t)".encode(),
            (HISTORY,),
        )
        conn.execute(f"VACUUM ANALYZE {backend.sql.jobs}".encode())
    await backend.enqueue([job(f"live-{i}") for i in range(20)])
    return backend


async def plan(backend: PostgresBackend, query: JobFilter) -> str:
    after = None if query.cursor is None else cursor_place(query.cursor)
    statement, params = listing(backend.sql, query, after)
    async with backend._connection() as conn:
        cursor = await conn.execute(b"EXPLAIN " + statement, params, prepare=False)
        return "\n".join(row[0] for row in await cursor.fetchall())


async def test_each_filter_walks_a_listing_index_and_stops_after_a_page(
    history: PostgresBackend,
) -> None:
    backend = history
    now = await backend.now()
    deep = await backend.page_jobs(JobFilter(limit=2000))
    assert deep.next_cursor is not None
    walks = {
        JobFilter(): "conveyor_jobs_finished",
        JobFilter(state=JobState.FAILED): "conveyor_jobs_state",
        JobFilter(state=JobState.FAILED, queue="quiet"): "conveyor_jobs_state",
        JobFilter(queue="quiet"): "conveyor_jobs_finished_queue",
        JobFilter(task="tasks.rare"): "conveyor_jobs_finished_task",
        JobFilter(since=now - 86400 - 3600, until=now - 86400): "conveyor_jobs_finished",
        JobFilter(id_prefix="abc"): "conveyor_jobs_id_key",
        JobFilter(cursor=deep.next_cursor): "conveyor_jobs_finished",
    }
    for query, index in walks.items():
        text = await plan(backend, query)

        assert "Seq Scan" not in text, (query, text)
        assert re.search(rf"(using|on) {index}\b", text), (query, text)
    # a cursor is a place to start from in the index, not rows to read and skip
    lines = (await plan(backend, JobFilter(cursor=deep.next_cursor))).splitlines()
    assert any("Index Cond: (ROW(enqueued_at, seq) < ROW(" in line for line in lines)


async def test_pages_deep_in_the_history_are_the_jobs_that_follow(
    history: PostgresBackend,
) -> None:
    backend = history
    query = JobFilter(state=JobState.FAILED, limit=7)
    everything = await backend.list_jobs(dataclasses.replace(query, limit=HISTORY))
    walked: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        page = await backend.page_jobs(dataclasses.replace(query, cursor=cursor))
        walked += [record.id for record in page.jobs]
        cursor = page.next_cursor

    assert len(everything) == HISTORY // 100
    assert walked == [record.id for record in everything[:140]]
    assert walked[-1] == (await backend.list_jobs(dataclasses.replace(query, offset=139)))[0].id


async def test_time_bounds_hold_to_the_microsecond(backend: PostgresBackend) -> None:
    for i in range(60):  # sixty enqueue times, each as the store's clock wrote it
        await backend.enqueue([job(f"j-{i:02}")])
    records = await backend.list_jobs(JobFilter(limit=100))

    for record in records:  # a float of epoch seconds names the microsecond it came from
        at = record.enqueued_at
        assert [r.id for r in await backend.list_jobs(JobFilter(since=at, until=at))] == []
        since = await backend.list_jobs(JobFilter(since=at, limit=100))
        until = await backend.list_jobs(JobFilter(until=at, limit=100))
        assert since[-1].id == record.id
        assert record.id not in {r.id for r in until}
        assert len(since) + len(until) == len(records)


def test_the_ids_after_a_prefix_are_found_by_code_point() -> None:
    assert _past_prefix("abc") == "abd"
    assert _past_prefix("a\U0010ffff") == "b"
    assert _past_prefix("\U0010ffff") is None
    assert _past_prefix("a\ud7ff") == "a\ue000"  # surrogates are not text: stepped over


async def test_an_id_prefix_of_any_text_lists_exactly_the_ids_it_begins(
    backend: PostgresBackend,
) -> None:
    stored = ["é-1", "é", "éa", "ê", "e-1", "a\U0010ffff", "a\U0010ffffz", "b", "\ud7ff-x"]
    stored += ["\ue000-y", "Z", "z", "_", "%"]
    await backend.enqueue([job(job_id) for job_id in stored])

    for prefix in ["é", "e", "a\U0010ffff", "a", "Z", "\ud7ff", "\U0010ffff"]:
        listed = await backend.list_jobs(JobFilter(id_prefix=prefix, limit=100))
        assert {r.id for r in listed} == {i for i in stored if i.startswith(prefix)}, prefix
