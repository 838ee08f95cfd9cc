"""Listing on Redis costs what the page asked for, not what the store holds: the same Redis
commands answer a page of failed jobs over a small history and one ten times larger, the
hundredth page as the first, and `counts()` and `backlog()` whatever the history. The rare
filters (task, worker, id prefix) look at a bounded number of jobs per page and say where
they stopped."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor.backends import redis as redis_backend
from conveyor.backends import redis_lua
from conveyor.backends.base import JobFilter, JobPage
from conveyor.backends.redis import RedisBackend
from conveyor.job import JobState
from live_services import RedisServer

from .conftest import opened
from .support import counted, finish, job

FAILED, ACTIVE = JobState.FAILED, JobState.ACTIVE
SMALL, LARGE = 200, 2000  # succeeded jobs kept
BATCH = 500


async def store(url: str, history: int) -> RedisBackend:
    """A store whose 30 failed jobs are its oldest, under `history` succeeded jobs over two
    queues, with a live backlog on top: a listing that walked the history to find the
    failed jobs would pay for all of it."""
    backend = RedisBackend(url)
    await backend.open()
    await finish(backend, [job("q", "tasks.boom") for _ in range(30)], FAILED)
    for start in range(0, history, BATCH):
        size = min(BATCH, history - start)
        await finish(backend, [job("q" if i % 2 else "r") for i in range(size)])
    await backend.enqueue([job("q") for _ in range(20)])
    await backend.enqueue([job("q", delay=3600) for _ in range(5)])
    await backend.claim(["q"], 3, "worker-2", 60.0)
    return backend


async def costs(server: RedisServer, backend: RedisBackend) -> dict[str, dict[str, int]]:
    """The commands each reader runs, by query."""
    queries = {
        "failed": JobFilter(state=FAILED, limit=10),
        "failed of q": JobFilter(state=FAILED, queue="q", limit=10),
        "newest": JobFilter(limit=10),
        "queued": JobFilter(state=JobState.QUEUED, limit=10),
        "active": JobFilter(state=ACTIVE, worker="worker-2"),
    }
    seen: dict[str, dict[str, int]] = {}
    for name, query in queries.items():
        with counted(server) as commands:
            page = await backend.page_jobs(query)
        assert page.jobs, name
        seen[name] = commands.calls
    first = await backend.page_jobs(JobFilter(state=FAILED, limit=10))
    with counted(server) as commands:
        await backend.page_jobs(JobFilter(state=FAILED, limit=10, cursor=first.next_cursor))
    seen["failed, page 2"] = commands.calls
    with counted(server) as commands:
        await backend.counts()
    seen["counts"] = commands.calls
    with counted(server) as commands:
        await backend.backlog()
    seen["backlog"] = commands.calls
    return seen


async def test_the_same_commands_answer_over_ten_times_the_history(server: RedisServer) -> None:
    small = await store(f"{server.url}?prefix=small-history", SMALL)
    large = await store(f"{server.url}?prefix=large-history", LARGE)
    try:
        assert (await large.counts())["r"][JobState.SUCCEEDED] == LARGE // 2

        assert await costs(server, large) == await costs(server, small)
    finally:
        await small.close()
        await large.close()


async def test_a_deep_page_costs_what_the_first_one_does(server: RedisServer, url: str) -> None:
    backend = await store(url, LARGE)
    try:
        with counted(server) as first_page:
            page = await backend.page_jobs(JobFilter(limit=20))
        pages = 1
        while pages < 90:  # 1,800 jobs down
            assert page.next_cursor is not None
            page = await backend.page_jobs(JobFilter(limit=20, cursor=page.next_cursor))
            pages += 1
        with counted(server) as deep_page:
            page = await backend.page_jobs(JobFilter(limit=20, cursor=page.next_cursor))

        assert len(page.jobs) == 20
        assert deep_page.calls == first_page.calls
    finally:
        await backend.close()


async def test_a_rare_filter_looks_at_a_bounded_number_of_jobs_per_page(
    url: str, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_backend, "PAGE_SCAN", 60)  # 20 record reads
    monkeypatch.setattr(redis_backend, "PAGE_CALLS", 2)
    async with opened(url) as backend:
        [rare] = [job("q", "tasks.rare")]
        await finish(backend, [rare])
        await finish(backend, [job("q") for _ in range(300)])
        query = JobFilter(task="tasks.rare")

        with counted(server) as commands:
            page = await backend.page_jobs(query)

        assert (page.jobs, page.next_cursor is not None) == ([], True)  # short, and says so
        assert commands.calls["hmget"] == 40  # two scripts of 20 record reads
        found: list[str] = []
        pages = [page]
        while pages[-1].next_cursor is not None:
            query = dataclasses.replace(query, cursor=pages[-1].next_cursor)
            pages.append(await backend.page_jobs(query))
            found += [record.id for record in pages[-1].jobs]
        assert found == [rare.id]
        assert len(pages) == 301 // 40 + 1


@pytest.mark.parametrize("state", [ACTIVE, JobState.SCHEDULED])
async def test_a_live_state_too_large_to_sort_is_walked_in_order(
    backend: RedisBackend, state: JobState
) -> None:
    # more jobs in the state than redis_lua.PAGE_SORT_LIMIT: read from the live index instead
    many = redis_lua.PAGE_SORT_LIMIT + 5
    delay = 3600.0 if state is JobState.SCHEDULED else 0.0
    jobs = [job("q", delay=delay) for _ in range(many)]
    await backend.enqueue(jobs)
    if state is ACTIVE:
        assert len(await backend.claim(["q"], many, "worker-1", 60.0)) == many
    newer = [job("q") for _ in range(10)]  # queued, listed above them
    await backend.enqueue(newer)

    pages = await walk(backend, JobFilter(state=state, queue="q", limit=100))

    assert [record.id for page in pages for record in page.jobs] == [j.id for j in reversed(jobs)]
    assert {record.state for page in pages for record in page.jobs} == {state}


async def walk(backend: RedisBackend, query: JobFilter) -> list[JobPage]:
    pages = [await backend.page_jobs(query)]
    while (cursor := pages[-1].next_cursor) is not None:
        pages.append(await backend.page_jobs(dataclasses.replace(query, cursor=cursor)))
    return pages
