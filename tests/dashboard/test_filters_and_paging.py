"""The jobs page's filters and keyset paging, all in the query string."""

from __future__ import annotations

import re

import httpx

from conveyor import Conveyor

from .support import Seeded, client

LISTED = re.compile(r'<td class="id"><a href="/jobs/([^"]+)"')
NEXT = re.compile(r'href="/jobs\?([^"]*cursor=[^"]+)" rel="next"')


async def listed(http: httpx.AsyncClient, query: str) -> list[str]:
    page = await http.get(f"/jobs?{query}")
    assert page.status_code == 200, page.text
    return LISTED.findall(page.text)


async def test_each_filter_narrows_the_list(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        assert await listed(http, "state=failed") == [seeded.failed]
        assert await listed(http, "state=scheduled") == [seeded.scheduled, seeded.retried]
        by_queue = await listed(http, "queue=reports")
        assert set(by_queue) == {seeded.active, seeded.queued, seeded.scheduled}
        by_task = await listed(http, "task=mail.send_welcome&state=cancelled")
        assert by_task == [seeded.cancelled]
        assert await listed(http, f"id={seeded.workflow}") == [
            f"{seeded.workflow}:1", f"{seeded.workflow}:0",
        ]  # fmt: skip
        assert await listed(http, "since=1h&state=queued") != []
        assert await listed(http, "until=1h") == []  # all were enqueued within the hour
        assert await listed(http, "since=2001-01-01T00:00:00Z&until=2001-01-02") == []


async def test_a_bad_filter_is_explained(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        state = await http.get("/jobs?state=lost")
        since = await http.get("/jobs?since=yesterday-ish")
        order = await http.get("/jobs?since=1h&until=2h")
    assert state.status_code == 400
    assert "state must be one of" in state.text
    assert since.status_code == 400
    assert "since must be a time such as" in since.text
    assert order.status_code == 400
    assert "since must be before until" in order.text


async def test_pages_follow_one_another_by_cursor(app: Conveyor) -> None:
    send = app.tasks["math.add"]
    enqueued = [(await send.enqueue(i, i)).id for i in range(60)]
    seen: list[str] = []
    query = "queue=default&limit=25"
    async with client(app) as http:
        for _ in range(10):
            page = await http.get(f"/jobs?{query}")
            seen += LISTED.findall(page.text)
            following = NEXT.search(page.text)
            if following is None:
                break
            query = following[1].replace("&amp;", "&")
            assert "queue=default" in query
            assert "limit=25" in query
    assert sorted(seen) == sorted(enqueued)
    assert len(seen) == len(set(seen)) == 60


async def test_a_cursor_from_elsewhere_is_refused_politely(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        page = await http.get("/jobs?cursor=not-a-cursor")
    assert page.status_code in (200, 400)  # a store may read any text as a position
    if page.status_code == 400:
        assert "start from the first page" in page.text


async def test_a_rare_match_deep_in_the_history_is_found_on_the_first_page(
    app: Conveyor,
) -> None:
    # one old job of a rare task under 12,000 newer ones: a store may answer such a filter
    # with short pages of a bounded scan (Redis does), which the page follows for a while
    rare = await app.tasks["ops.nightly"].options(queue="default").enqueue()
    common = app.tasks["math.add"]
    calls = [common.s(i, i) for i in range(12_000)]
    for start in range(0, len(calls), 2_000):
        await app.enqueue_many(calls[start : start + 2_000])
    async with client(app) as http:
        assert await listed(http, "task=ops.nightly") == [rare.id]
        # ids begin with their millisecond: the prefix reaches into the random tail
        assert await listed(http, f"id={rare.id[:20]}") == [rare.id]
