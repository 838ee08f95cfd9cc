"""Job listing for the dashboard: every filter alone and together, newest first, and keyset
paging by `page_jobs` that neither repeats nor skips a job, however the store changes."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from conveyor.backends.base import Backend, JobFilter
from conveyor.job import JobState

from .support import (
    SHORT_LEASE,
    ack,
    claim,
    claim_one,
    enqueue,
    expire_lease,
    finish,
    get,
    ids,
    lease_of,
    make_job,
    sleep_past,
)

Q, S, A = JobState.QUEUED, JobState.SCHEDULED, JobState.ACTIVE
OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
EVERYTHING = 1000  # a limit above the number of jobs any test stores
ALL = JobFilter()

# the ids `fill` stores, oldest first; each names its queue, state and task
FILLED = [
    "a-succeeded-x",
    "b-failed-y",
    "a-active-x",
    "b-active-y",
    "a-queued-x",
    "a-queued-y",
    "b-queued-y",
    "a-scheduled-y",
    "b-cancelled-x",
    "a-due-x",
]


async def fill(backend: Backend) -> None:
    """Jobs in every state over two queues, two tasks and two workers, one enqueue each:
    worker-1 ran a-succeeded-x and b-failed-y and runs a-active-x; worker-2 runs b-active-y.
    a-due-x was scheduled and its time has come: it reads as queued."""
    await finish(backend, make_job("a-succeeded-x", queue="a", task="x"))
    await finish(backend, make_job("b-failed-y", queue="b", task="y"), FAILED)
    await enqueue(backend, make_job("a-active-x", queue="a", task="x", priority=5))
    await claim_one(backend, "a")
    await enqueue(backend, make_job("b-active-y", queue="b", task="y", priority=5))
    assert ids(await claim(backend, ("b",), 1, worker="worker-2")) == ["b-active-y"]
    await enqueue(backend, make_job("a-queued-x", queue="a", task="x"))
    await enqueue(backend, make_job("a-queued-y", queue="a", task="y"))
    await enqueue(backend, make_job("b-queued-y", queue="b", task="y"))
    await enqueue(backend, make_job("a-scheduled-y", queue="a", task="y", delay=60))
    await enqueue(backend, make_job("b-cancelled-x", queue="b", task="x"))
    await backend.cancel("b-cancelled-x")
    [due] = await enqueue(backend, make_job("a-due-x", queue="a", task="x", delay=0.1))
    await sleep_past(backend, due.due_at)


async def listed(backend: Backend, query: JobFilter = ALL) -> list[str]:
    """The ids of every job matching `query`, in listing order."""
    return ids(await backend.list_jobs(dataclasses.replace(query, limit=EVERYTHING)))


def newest_first(wanted: set[str]) -> list[str]:
    return [job_id for job_id in reversed(FILLED) if job_id in wanted]


async def walk(backend: Backend, query: JobFilter) -> list[list[str]]:
    """Every page of `query` from its cursor on, following `next_cursor` until it is None."""
    pages: list[list[str]] = []
    cursor = query.cursor
    while True:
        page = await backend.page_jobs(dataclasses.replace(query, cursor=cursor))
        pages.append(ids(page.jobs))
        assert len(page.jobs) <= query.limit
        assert len(pages) <= EVERYTHING, "the cursor never reached the end"
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


# -- each filter alone ---------------------------------------------------------------------


async def test_with_no_filter_every_job_is_listed_newest_first(backend: Backend) -> None:
    await fill(backend)

    assert await listed(backend) == list(reversed(FILLED))


async def test_the_queue_filter(backend: Backend) -> None:
    await fill(backend)

    assert await listed(backend, JobFilter(queue="b")) == newest_first(
        {"b-failed-y", "b-active-y", "b-queued-y", "b-cancelled-x"}
    )
    assert await listed(backend, JobFilter(queue="nowhere")) == []


async def test_the_state_filter_for_every_state(backend: Backend) -> None:
    await fill(backend)

    expected = {
        Q: {"a-queued-x", "a-queued-y", "b-queued-y", "a-due-x"},
        S: {"a-scheduled-y"},
        A: {"a-active-x", "b-active-y"},
        OK: {"a-succeeded-x"},
        FAILED: {"b-failed-y"},
        CANCELLED: {"b-cancelled-x"},
    }
    for state, wanted in expected.items():
        assert await listed(backend, JobFilter(state=state)) == newest_first(wanted), state


async def test_a_scheduled_job_whose_time_has_come_lists_as_queued(backend: Backend) -> None:
    await fill(backend)

    [due] = await backend.list_jobs(JobFilter(id_prefix="a-due"))
    queued = await backend.list_jobs(JobFilter(state=Q, limit=EVERYTHING))

    assert due.state is Q
    assert "a-due-x" in ids(queued)
    assert {record.state for record in queued} == {Q}
    assert "a-due-x" not in await listed(backend, JobFilter(state=S))


async def test_the_task_filter(backend: Backend) -> None:
    await fill(backend)

    assert await listed(backend, JobFilter(task="x")) == newest_first(
        {"a-succeeded-x", "a-active-x", "a-queued-x", "b-cancelled-x", "a-due-x"}
    )
    assert await listed(backend, JobFilter(task="tasks.none")) == []


async def test_the_id_prefix_filter(backend: Backend) -> None:
    await fill(backend)

    assert await listed(backend, JobFilter(id_prefix="a-queued")) == ["a-queued-y", "a-queued-x"]
    assert await listed(backend, JobFilter(id_prefix="b-")) == newest_first(
        {"b-failed-y", "b-active-y", "b-queued-y", "b-cancelled-x"}
    )
    assert await listed(backend, JobFilter(id_prefix="a-due-x")) == ["a-due-x"]  # a whole id
    assert await listed(backend, JobFilter(id_prefix="a-due-x-")) == []
    assert await listed(backend, JobFilter(id_prefix="queued")) == []  # a prefix, not a substring
    assert await listed(backend, JobFilter(id_prefix="A-")) == []  # ids are case sensitive


async def test_an_id_prefix_is_plain_text_not_a_pattern(backend: Backend) -> None:
    stored = ["50%-off", "5000-off", "a_b", "axb", "star*1", "starx1", "br[ack]et", "brat"]
    stored += ["back\\slash", "back-slash", "what?", "whats"]
    await enqueue(backend, *(make_job(job_id) for job_id in stored))

    assert set(await listed(backend, JobFilter(id_prefix="50%"))) == {"50%-off"}
    assert set(await listed(backend, JobFilter(id_prefix="5"))) == {"50%-off", "5000-off"}
    assert set(await listed(backend, JobFilter(id_prefix="a_"))) == {"a_b"}
    assert set(await listed(backend, JobFilter(id_prefix="star*"))) == {"star*1"}
    assert set(await listed(backend, JobFilter(id_prefix="br["))) == {"br[ack]et"}
    assert set(await listed(backend, JobFilter(id_prefix="back\\"))) == {"back\\slash"}
    assert set(await listed(backend, JobFilter(id_prefix="what?"))) == {"what?"}
    assert set(await listed(backend, JobFilter(id_prefix="%"))) == set()
    assert set(await listed(backend, JobFilter(id_prefix="*"))) == set()


async def test_an_empty_id_prefix_matches_every_job(backend: Backend) -> None:
    await fill(backend)

    assert await listed(backend, JobFilter(id_prefix="")) == list(reversed(FILLED))


async def test_since_and_until_bound_the_enqueue_time(backend: Backend) -> None:
    for job_id in ("old-1", "old-2", "new-1", "new-2"):
        await enqueue(backend, make_job(job_id))
        await asyncio.sleep(0.02)  # four distinct enqueue times on every store's clock
    at = {job_id: (await get(backend, job_id)).enqueued_at for job_id in ("old-2", "new-1")}
    assert at["old-2"] < at["new-1"]

    assert await listed(backend, JobFilter(since=at["new-1"])) == ["new-2", "new-1"]  # at or after
    assert await listed(backend, JobFilter(until=at["new-1"])) == ["old-2", "old-1"]  # before
    assert await listed(backend, JobFilter(since=at["old-2"], until=at["new-1"])) == ["old-2"]
    assert await listed(backend, JobFilter(since=at["new-1"], until=at["new-1"])) == []
    assert (
        await listed(backend, JobFilter(since=at["new-1"], until=at["old-2"])) == []
    )  # an empty range
    assert await listed(backend, JobFilter(since=await backend.now() + 60)) == []
    assert await listed(backend, JobFilter(until=at["old-2"] - 60)) == []
    assert await listed(backend, JobFilter(since=0.0)) == ["new-2", "new-1", "old-2", "old-1"]


async def test_the_worker_filter_lists_the_jobs_a_worker_claimed(backend: Backend) -> None:
    await fill(backend)

    assert await listed(backend, JobFilter(worker="worker-2")) == ["b-active-y"]
    assert await listed(backend, JobFilter(worker="worker-1", state=A)) == ["a-active-x"]
    # whether a finished job remembers the worker that ran it is the store's business; the
    # jobs no worker claimed, and the other worker's, are never listed
    ran = set(await listed(backend, JobFilter(worker="worker-1"))) - {"a-succeeded-x", "b-failed-y"}
    assert ran == {"a-active-x"}
    assert await listed(backend, JobFilter(worker="worker-3")) == []


async def test_a_job_taken_over_after_a_lost_lease_belongs_to_its_new_worker(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j"))
    [first] = await claim(backend, lease_seconds=SHORT_LEASE, worker="worker-1")
    await expire_lease(backend, first)
    await backend.recover_expired()
    [again] = await claim(backend, worker="worker-2")
    assert again.id == "j"

    assert await listed(backend, JobFilter(worker="worker-2", state=A)) == ["j"]
    assert await listed(backend, JobFilter(worker="worker-1", state=A)) == []
    assert await listed(backend, JobFilter(worker="worker-1")) == []


async def test_a_job_handed_back_no_longer_lists_under_its_worker(backend: Backend) -> None:
    await enqueue(backend, make_job("back"), make_job("retry"))
    claimed = {record.id: record for record in await claim(backend, worker="worker-1")}
    assert await ack(backend, lease_of(claimed["back"]), Q)
    assert await ack(backend, lease_of(claimed["retry"]), S, retry_in=60)

    assert await listed(backend, JobFilter(worker="worker-1", state=A)) == []
    assert set(await listed(backend, JobFilter(state=Q))) == {"back"}
    assert set(await listed(backend, JobFilter(state=S))) == {"retry"}


# -- filters together ----------------------------------------------------------------------


async def test_every_filter_given_must_hold(backend: Backend) -> None:
    await fill(backend)
    since = (await get(backend, "a-queued-x")).enqueued_at
    until = (await get(backend, "a-due-x")).enqueued_at

    assert await listed(backend, JobFilter(queue="a", state=Q, task="y")) == ["a-queued-y"]
    assert await listed(backend, JobFilter(queue="a", task="x")) == newest_first(
        {"a-succeeded-x", "a-active-x", "a-queued-x", "a-due-x"}
    )
    assert await listed(backend, JobFilter(queue="b", state=A, worker="worker-2")) == ["b-active-y"]
    assert await listed(backend, JobFilter(queue="a", state=A, worker="worker-2")) == []
    assert await listed(backend, JobFilter(state=Q, id_prefix="a-")) == newest_first(
        {"a-queued-x", "a-queued-y", "a-due-x"}
    )
    assert await listed(backend, JobFilter(state=Q, since=since)) == newest_first(
        {"a-queued-x", "a-queued-y", "b-queued-y", "a-due-x"}
    )
    assert await listed(backend, JobFilter(state=Q, since=since, until=until)) == newest_first(
        {"a-queued-x", "a-queued-y", "b-queued-y"}
    )
    assert await listed(backend, JobFilter(queue="b", task="x", since=since, until=until)) == [
        "b-cancelled-x"
    ]
    assert await listed(backend, JobFilter(task="y", id_prefix="a-", state=S, queue="a")) == [
        "a-scheduled-y"
    ]
    assert await listed(backend, JobFilter(queue="b", state=OK)) == []


async def test_listing_is_newest_first_by_enqueue_time(backend: Backend) -> None:
    await fill(backend)

    for query in (JobFilter(), JobFilter(queue="a"), JobFilter(state=Q), JobFilter(task="y")):
        records = await backend.list_jobs(query)
        times = [record.enqueued_at for record in records]
        assert times == sorted(times, reverse=True), query


# -- keyset paging -------------------------------------------------------------------------


async def test_walking_the_pages_returns_every_job_once_in_order(backend: Backend) -> None:
    # one batch of 23 (jobs stored in one call may share an enqueue time) and 7 alone
    await enqueue(backend, *(make_job(f"batch-{i:02}") for i in range(23)))
    for i in range(7):
        await enqueue(backend, make_job(f"alone-{i}"))
    everything = await listed(backend)

    pages = await walk(backend, JobFilter(limit=4))

    assert [len(page) for page in pages] == [4] * 7 + [2]
    assert [job_id for page in pages for job_id in page] == everything
    assert len(set(everything)) == 30


async def test_the_last_page_has_no_cursor_even_when_it_is_full(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i:02}") for i in range(10)))

    pages = await walk(backend, JobFilter(limit=5))
    whole = await backend.page_jobs(JobFilter(limit=10))
    more = await backend.page_jobs(JobFilter(limit=11))

    assert [len(page) for page in pages] == [5, 5]
    assert (len(whole.jobs), whole.next_cursor) == (10, None)
    assert (len(more.jobs), more.next_cursor) == (10, None)


async def test_an_empty_listing_is_one_page_without_a_cursor(backend: Backend) -> None:
    page = await backend.page_jobs(JobFilter(queue="nowhere"))

    assert page.jobs == []
    assert page.next_cursor is None


async def test_the_default_page_holds_fifty_jobs(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i:02}") for i in range(55)))

    first = await backend.page_jobs(JobFilter())
    assert len(first.jobs) == 50
    assert first.next_cursor is not None
    rest = await backend.page_jobs(JobFilter(cursor=first.next_cursor))

    assert len(rest.jobs) == 5
    assert rest.next_cursor is None
    assert len(set(ids(first.jobs)) | set(ids(rest.jobs))) == 55


async def test_pages_of_a_filtered_listing_hold_only_matching_jobs(backend: Backend) -> None:
    # queued jobs of queue "a" interleaved with others that must not count towards a page
    await finish(backend, make_job("a-done", queue="a"))
    for i in range(12):
        await enqueue(backend, make_job(f"a-{i:02}", queue="a"), make_job(f"b-{i:02}", queue="b"))
        await enqueue(backend, make_job(f"a-later-{i:02}", queue="a", delay=60))

    query = JobFilter(queue="a", state=Q, limit=5)
    pages = await walk(backend, query)

    assert [len(page) for page in pages] == [5, 5, 2]
    walked = [job_id for page in pages for job_id in page]
    assert walked == await listed(backend, JobFilter(queue="a", state=Q))
    assert walked == [f"a-{i:02}" for i in reversed(range(12))]


async def test_every_filter_pages_by_cursor(backend: Backend) -> None:
    await fill(backend)
    since = (await get(backend, "b-failed-y")).enqueued_at
    queries = [
        JobFilter(queue="a", limit=2),
        JobFilter(state=Q, limit=1),
        JobFilter(task="y", limit=2),
        JobFilter(id_prefix="b-", limit=3),
        JobFilter(since=since, limit=3),
        JobFilter(worker="worker-1", state=A, limit=1),
    ]
    for query in queries:
        everything = await listed(backend, query)
        pages = await walk(backend, query)
        assert [job_id for page in pages for job_id in page] == everything, query


async def test_a_job_enqueued_while_paging_neither_repeats_nor_skips_others(
    backend: Backend,
) -> None:
    for i in range(12):
        await enqueue(backend, make_job(f"j-{i:02}"))
    before = await listed(backend)

    first = await backend.page_jobs(JobFilter(limit=5))
    await enqueue(backend, make_job("newcomer"))  # newest: it belongs on a first page
    assert first.next_cursor is not None
    rest = await walk(backend, JobFilter(limit=5, cursor=first.next_cursor))

    walked = ids(first.jobs) + [job_id for page in rest for job_id in page]
    assert walked == before
    assert (await listed(backend))[0] == "newcomer"


async def test_a_job_deleted_while_paging_does_not_lose_the_place(backend: Backend) -> None:
    # the page ends on a finished job, which is purged before the next page is asked for
    for i in range(6):
        await finish(backend, make_job(f"done-{i}", queue="done"))
        await enqueue(backend, make_job(f"waiting-{i}"))
    await finish(backend, make_job("done-last", queue="done"))
    before = await listed(backend)

    first = await backend.page_jobs(JobFilter(limit=3))
    assert ids(first.jobs) == ["done-last", "waiting-5", "done-5"]
    assert await backend.purge([OK]) == 7
    assert first.next_cursor is not None
    rest = await walk(backend, JobFilter(limit=3, cursor=first.next_cursor))

    seen_after = [job_id for page in rest for job_id in page]
    assert seen_after == [j for j in before[3:] if j.startswith("waiting-")]


async def test_a_job_changing_state_while_paging_does_not_move_the_others(
    backend: Backend,
) -> None:
    for i in range(10):
        await enqueue(backend, make_job(f"j-{i:02}"))
    before = await listed(backend)

    first = await backend.page_jobs(JobFilter(limit=3))
    claimed = await claim(backend, limit=2)  # the two oldest: on a later page, now active
    assert first.next_cursor is not None
    rest = await walk(backend, JobFilter(limit=3, cursor=first.next_cursor))

    assert ids(claimed) == ["j-00", "j-01"]
    assert ids(first.jobs) + [job_id for page in rest for job_id in page] == before


async def test_jobs_whose_result_expired_are_neither_listed_nor_counted_in_a_page(
    backend: Backend,
) -> None:
    for i in range(6):
        await finish(backend, make_job(f"kept-{i}", queue="done"))
        await finish(backend, make_job(f"gone-{i}", queue="done", result_ttl=0.1))
    last = await get(backend, "gone-5")
    assert last.expires_at is not None
    await sleep_past(backend, last.expires_at)

    pages = await walk(backend, JobFilter(limit=3))
    succeeded = await walk(backend, JobFilter(state=OK, limit=3))

    kept = [f"kept-{i}" for i in reversed(range(6))]
    assert pages == succeeded == [kept[:3], kept[3:]]
    assert await listed(backend, JobFilter(id_prefix="gone-")) == []


async def test_a_limit_of_zero_lists_nothing_and_loses_no_place(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i}") for i in range(3)))

    page = await backend.page_jobs(JobFilter(limit=0))

    assert page.jobs == []
    assert await backend.list_jobs(JobFilter(limit=0)) == []
    if page.next_cursor is not None:  # a cursor after no job: the next page starts at the top
        rest = await backend.page_jobs(JobFilter(limit=EVERYTHING, cursor=page.next_cursor))
        assert ids(rest.jobs) == await listed(backend)


async def test_a_cursor_and_an_offset_together_are_refused(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i}") for i in range(3)))
    first = await backend.page_jobs(JobFilter(limit=1))
    assert first.next_cursor is not None

    with pytest.raises(ValueError, match="cursor or an offset"):
        await backend.page_jobs(JobFilter(limit=1, offset=1, cursor=first.next_cursor))
    with pytest.raises(ValueError, match="cursor or an offset"):
        await backend.list_jobs(JobFilter(limit=1, offset=1, cursor=first.next_cursor))


async def test_a_cursor_that_no_page_gave_is_refused(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i}") for i in range(3)))

    for cursor in ("not a cursor", "", "\x00"):
        with pytest.raises(ValueError, match="cursor"):
            await backend.page_jobs(JobFilter(cursor=cursor))


async def test_a_cursor_reused_under_another_filter_keeps_its_place(backend: Backend) -> None:
    # a cursor is a place in the one order every listing shares, not a bookmark of one
    # filter: under another filter it lists that filter's jobs from the same place on
    await fill(backend)
    everything = await listed(backend)
    first = await backend.page_jobs(JobFilter(queue="a", limit=2))
    assert ids(first.jobs) == ["a-due-x", "a-scheduled-y"]
    assert first.next_cursor is not None

    page = await backend.page_jobs(JobFilter(queue="b", cursor=first.next_cursor, limit=100))

    place = everything.index("a-scheduled-y")
    assert ids(page.jobs) == [j for j in everything[place + 1 :] if j.startswith("b-")]
    assert ids(page.jobs) == ["b-queued-y", "b-active-y", "b-failed-y"]
    assert page.next_cursor is None


async def test_negative_limits_and_offsets_are_refused_by_page_jobs(backend: Backend) -> None:
    with pytest.raises(ValueError, match="limit and offset"):
        await backend.page_jobs(JobFilter(limit=-1))
    with pytest.raises(ValueError, match="limit and offset"):
        await backend.page_jobs(JobFilter(offset=-1))


async def test_a_peer_reads_the_same_pages(backend: Backend, peer: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i:02}") for i in range(7)))

    mine = await walk(backend, JobFilter(limit=3))
    first = await backend.page_jobs(JobFilter(limit=3))
    assert first.next_cursor is not None
    theirs = await peer.page_jobs(JobFilter(limit=3, cursor=first.next_cursor))

    assert ids(theirs.jobs) == mine[1]
