"""Every call the dashboard's pages make, as the browser makes it, and the store reads
around it (`counts()`, `backlog()`, `conveyor stats`).

Each call checks its answer: the status, and a text the page must show (the first job the
store lists for a filter, the job's id on its page, the count on a confirmation page), so
a fast error page is never timed as a fast page. The confirmations are the first POST of
"all that match" (no `confirmed=yes`): they count, and change nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping

import httpx
from click.testing import CliRunner

from benchmarks.dashboard.fill import FAILING_QUEUE, KINDS, RARE, WORKFLOW_SIZE, Landmarks
from conveyor.backends.base import Backend
from conveyor.cli import main as cli
from conveyor.dashboard.filters import parse
from conveyor.job import JobState

PAGES_DEEP = 100  # the page a cursor is followed to
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Unexpected(AssertionError):
    """A call answered, but not with what it should show."""


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    name: str  # as the table shows it
    run: Callable[[], Awaitable[None]]
    kind: str = "page"  # page, api, action or store
    note: str | None = None  # what the answer showed that the table cannot say


async def dashboard_calls(
    client: httpx.AsyncClient, backend: Backend, url: str, marks: Landmarks
) -> list[Call]:
    now = await backend.now()
    token = await _csrf_token(client)

    async def get(
        name: str, path: str, params: Mapping[str, str] | None = None, *, expect: str | None,
        kind: str = "page", live: bool = False, note: str | None = None,
    ) -> Call:  # fmt: skip
        headers = {"HX-Request": "true"} if live else {}

        async def run() -> None:
            response = await client.get(path, params=params, headers=headers)
            _check(name, response, expect)

        return Call(name, run, kind, note)

    async def listing(name: str, params: dict[str, str]) -> Call:
        """The jobs page for these filters; it must show the first job the store lists."""
        query = parse(params, now)
        page = await backend.page_jobs(query.job_filter(cursor=query.cursor))
        if page.jobs:
            return await get(name, "/jobs", params, expect=page.jobs[0].id)
        if page.next_cursor is None:
            raise Unexpected(f"{name}: the store holds no job for {params}: nothing to time")
        note = (
            "the first page lists no job, only a link to the next: the store stopped looking "
            "before it met a match"
        )
        return await get(name, "/jobs", params, expect=None, note=note)

    async def confirm(name: str, verb: str, filters: dict[str, str], expect: str) -> Call:
        form = {"csrf_token": token, "scope": "matching", "next": "/jobs", **filters}

        async def run() -> None:
            response = await client.post(f"/actions/{verb}", data=form)
            _check(name, response, expect)

        return Call(name, run, "action")

    deep, cursor = await _deep_cursor(backend, now)
    succeeded = KINDS[0].name
    failed_matches = marks.total(JobState.FAILED)  # counted by the store, not listed
    range_text = {"since": repr(marks.since), "until": repr(marks.until)}
    calls = [
        await get("overview", "/", expect=FAILING_QUEUE),
        await get("overview, live fragment", "/", expect=FAILING_QUEUE, live=True),
        await get("chart data, hour", "/api/outcomes", {"window": "hour"}, expect="succeeded",
                  kind="api"),
        await get("chart data, day", "/api/outcomes", {"window": "day"}, expect="succeeded",
                  kind="api"),
        await listing("jobs", {}),
        await listing(f"jobs, page {deep} by cursor", {"cursor": cursor}),
        await listing("jobs ?state=failed", {"state": "failed"}),
        await listing(f"jobs ?state=failed&queue={FAILING_QUEUE}",
                      {"state": "failed", "queue": FAILING_QUEUE}),
        await listing("jobs ?state=queued", {"state": "queued"}),
        await listing(f"jobs ?task={succeeded}", {"task": succeeded}),
        await listing(f"jobs ?task={RARE.name} (rare)", {"task": RARE.name}),
        await listing("jobs ?id=<14-character prefix>", {"id": marks.id_prefix}),
        await listing("jobs ?since=&until= (a tenth of the history)", range_text),
        await get("job: failed, with traceback", f"/jobs/{marks.failed_id}",
                  expect="Connection refused"),
        await get("job: succeeded", f"/jobs/{marks.succeeded_id}", expect=marks.succeeded_id),
        await get(f"job: a step of a group of {WORKFLOW_SIZE}", f"/jobs/{marks.workflow_step_id}",
                  expect=marks.workflow_step_id),
        await get("workers", "/workers", expect="worker-1@bench-host"),
        await get("queues", "/queues", expect=FAILING_QUEUE),
        await get("schedules", "/schedules", expect="clean-up-nightly"),
        await confirm("confirm: retry all ?state=failed", "retry", {"state": "failed"},
                      _number(failed_matches)),
        await confirm("confirm: cancel all ?state=queued", "cancel", {"state": "queued"},
                      "can be cancelled"),
        await confirm("confirm: delete all ?state=succeeded", "delete", {"state": "succeeded"},
                      "can be deleted"),
    ]  # fmt: skip
    return [*calls, *store_calls(backend, url)]


def store_calls(backend: Backend, url: str) -> list[Call]:
    async def counts() -> None:
        if not await backend.counts():
            raise Unexpected("counts() found no job")

    async def backlog() -> None:
        if not await backend.backlog():
            raise Unexpected("backlog() found no job")

    runner = CliRunner()

    async def stats() -> None:
        done = await asyncio.to_thread(runner.invoke, cli, ["stats", "--url", url])
        if done.exit_code != 0 or FAILING_QUEUE not in done.output:
            raise Unexpected(f"conveyor stats answered {done.exit_code}: {done.output[-500:]}")

    return [
        Call("backend.counts()", counts, "store"),
        Call("backend.backlog()", backlog, "store"),
        Call("`conveyor stats` (in-process, a new app each time)", stats, "store"),
    ]


async def _csrf_token(client: httpx.AsyncClient) -> str:
    """A session's token, from a page's form (the client keeps the session's cookie)."""
    response = await client.get("/jobs", params={"limit": "25"})
    found = CSRF.search(response.text)
    if response.status_code != 200 or found is None:
        raise Unexpected(f"/jobs answered {response.status_code} with no CSRF token")
    return found[1]


async def _deep_cursor(backend: Backend, now: float) -> tuple[int, str]:
    """The cursor of the jobs page PAGES_DEEP (or the last, in a smaller store), followed
    page by page as a reader would; and that page's number."""
    query = parse({}, now)
    page = await backend.page_jobs(query.job_filter())
    number = 1
    cursor = page.next_cursor
    while number < PAGES_DEEP and page.next_cursor is not None:
        cursor = page.next_cursor
        page = await backend.page_jobs(query.job_filter(cursor=cursor))
        number += 1
    if cursor is None:
        raise Unexpected("the store lists a single page of jobs: nothing to page through")
    return number, cursor


def _check(name: str, response: httpx.Response, expect: str | None) -> None:
    if response.status_code != 200:
        raise Unexpected(f"{name}: status {response.status_code}: {response.text[:300]}")
    if expect is not None and expect not in response.text:
        raise Unexpected(f"{name}: the answer does not show {expect!r}")


def _number(value: int) -> str:
    """As the pages write a count: 10 000, with a narrow space."""
    return f"{value:,}".replace(",", "\u202f")
