"""The dashboard as a person uses it: headless Chromium on a real `conveyor dashboard`, with
real worker processes, on SQLite, Redis and PostgreSQL.

Screenshots of each page land in $CONVEYOR_TEST_ARTIFACTS/dashboard (else the test's
temporary folder).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.job import JobState
from live_services import fresh_postgres, fresh_redis
from waiting import wait_until

from .browser_support import CHROMIUM, HEARTBEAT, OPERATOR, VIEWER, Fleet, fleet, playwright_or_skip

BROWSER_BACKENDS = ["sqlite", "redis", "postgres"]
TIMEOUT = 30.0  # seconds for anything the fleet does


@pytest.fixture(params=BROWSER_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/jobs.db"
    elif request.param == "redis":
        yield fresh_redis()
    else:
        with fresh_postgres() as url:
            yield url


@pytest.fixture
async def running(store: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    """A dashboard and one worker on a fresh store."""
    async with fleet(tmp_path, store) as started:
        started.start_worker("worker")
        await started.start_dashboard()
        yield started


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async_playwright = playwright_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in(browser: Any, who: tuple[str, str] = OPERATOR) -> Any:
    context = await browser.new_context(
        http_credentials={"username": who[0], "password": who[1]},
        viewport={"width": 1280, "height": 900},
    )
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of destructive buttons
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = os.environ.get("CONVEYOR_TEST_ARTIFACTS")
    folder = Path(root) / "dashboard" if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def shoot(page: Any, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> None:
    backend = request.node.callspec.params.get("store", "any")
    suffix = re.sub(r"\W", "", str(backend).split(":")[0])[:12]
    await page.screenshot(
        path=str(artifacts(request, tmp_path) / f"{name}-{suffix}.png"), full_page=True
    )


async def job_state(running: Fleet, job_id: str) -> JobState | None:
    record = await (await running.app.connected()).get(job_id)
    return None if record is None else record.state


async def test_a_failed_job_is_found_retried_and_succeeds(
    running: Fleet, browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    send = running.app.tasks["mail.send"]
    handles = [await send.enqueue(n) for n in range(3)]

    async def all_failed() -> bool:
        return all([await job_state(running, h.id) is JobState.FAILED for h in handles])

    await wait_until(all_failed, TIMEOUT, "the mails to fail", running.fail)
    page = await signed_in(browser)
    await page.goto(running.dashboard)
    chart = page.locator("[data-chart*=hour]")
    await page.wait_for_function(
        "el => (el.getAttribute('aria-label') || '').includes('3 failed')",
        arg=await chart.element_handle(),
    )
    assert await page.locator("canvas").count() == 2
    await shoot(page, request, tmp_path, "overview")

    await page.click("nav >> text=Jobs")
    await page.select_option("select[name=state]", "failed")
    await page.click("button:has-text('Filter')")
    await page.wait_for_url(re.compile(r"state=failed"))
    assert await page.locator("td.id a").count() == 3
    await shoot(page, request, tmp_path, "jobs-failed")

    await page.click(f"a[href$='/jobs/{handles[0].id}']")
    await page.wait_for_selector("text=smtp.example.com refused message 0")
    await shoot(page, request, tmp_path, "job-failed")
    running.fix()
    await page.click("button:has-text('Retry')")
    await page.wait_for_selector(".notice:has-text('retried 1 job')")
    # the page follows the job live, without a reload, until it has succeeded
    await page.wait_for_selector(".state.big:has-text('succeeded')")
    assert page.errors == []


async def test_batch_retry_of_the_selected_jobs_and_of_all_that_match(
    running: Fleet, browser: Any
) -> None:
    send = running.app.tasks["mail.send"]
    handles = [await send.enqueue(n) for n in range(5)]

    async def failed(count: int) -> bool:
        states = [await job_state(running, h.id) for h in handles]
        return states.count(JobState.FAILED) == count

    await wait_until(lambda: failed(5), TIMEOUT, "the mails to fail", running.fail)
    running.fix()
    page = await signed_in(browser)
    await page.goto(f"{running.dashboard}jobs?state=failed")
    boxes = page.locator("input[name=job]")
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    assert await page.text_content("[data-selected-count]") == "2 selected"
    await page.click("button[value=selected][formaction$='/actions/retry']")
    await page.wait_for_selector(".notice:has-text('retried 2 jobs')")
    await wait_until(lambda: failed(3), TIMEOUT, "two jobs to leave the failed state", running.fail)

    await page.goto(f"{running.dashboard}jobs?state=failed")
    await page.click("button[value=matching][formaction$='/actions/retry']")
    await page.wait_for_selector("text=3 jobs match")
    await page.click("button:has-text('Retry 3 jobs')")
    await page.wait_for_selector(".notice:has-text('retried 3 jobs')")

    async def all_succeeded() -> bool:
        return all([await job_state(running, h.id) is JobState.SUCCEEDED for h in handles])

    await wait_until(all_succeeded, TIMEOUT, "every mail to be sent", running.fail)


async def test_a_running_job_is_cancelled_from_its_page(
    running: Fleet, browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    handle = await running.app.tasks["reports.linger"].enqueue(120.0)
    page = await signed_in(browser)
    await page.goto(f"{running.dashboard}jobs/{handle.id}")
    await page.wait_for_selector(".state.big:has-text('active')")  # live: it was queued
    await page.wait_for_selector("text=rendering")
    await shoot(page, request, tmp_path, "job-running")
    await page.click("button:has-text('Ask it to stop')")
    await page.wait_for_selector(".state.big:has-text('cancelled')")


async def test_a_paused_queue_is_not_worked_until_resumed(
    running: Fleet, browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    page = await signed_in(browser)
    await page.goto(f"{running.dashboard}queues")
    row = page.locator("tr", has=page.locator("th a", has_text=re.compile(r"^lane$")))
    await row.locator("button:has-text('Pause')").click()
    await page.wait_for_selector(".notice:has-text('queue lane paused')")
    await shoot(page, request, tmp_path, "queues")
    quick = running.app.tasks["lane.quick"]
    handles = [await quick.enqueue(n) for n in range(3)]
    await page.wait_for_timeout(3 * HEARTBEAT * 1000)
    assert [await job_state(running, h.id) for h in handles] == [JobState.QUEUED] * 3

    row = page.locator("tr", has=page.locator("th a", has_text=re.compile(r"^lane$")))
    await row.locator("button:has-text('Resume')").click()
    await page.wait_for_selector(".notice:has-text('queue lane resumed')")

    async def done() -> bool:
        return all([await job_state(running, h.id) is JobState.SUCCEEDED for h in handles])

    await wait_until(done, TIMEOUT, "the lane's jobs to run", running.fail)


async def test_two_workers_are_listed_and_a_killed_one_leaves(
    running: Fleet, browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    doomed = running.start_worker("second", "mail", "lane")
    page = await signed_in(browser)
    await page.goto(f"{running.dashboard}workers")
    workers = page.locator("article.worker")

    async def listed(count: int) -> bool:
        return bool(await workers.count() == count)

    await wait_until(lambda: listed(2), TIMEOUT, "two workers on the page", running.fail)
    await shoot(page, request, tmp_path, "workers")
    doomed.send_signal(signal.SIGKILL)
    # its entry expires three heartbeats after its last; the live page follows
    await wait_until(lambda: listed(1), TIMEOUT, "the killed worker to leave", running.fail)


async def test_a_schedule_shows_its_next_run_and_runs_now(
    running: Fleet, browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    page = await signed_in(browser)
    await page.goto(f"{running.dashboard}schedules")
    row = page.locator("tr", has_text="tidy-up")
    assert "*/10 * * * *" in await row.inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d0 UTC", await row.inner_text())
    await shoot(page, request, tmp_path, "schedules")
    await row.locator("button:has-text('Run now')").click()
    notice = await page.text_content(".notice")
    assert notice is not None
    found = re.search(r"job (\w+) enqueued", notice)
    assert found, notice

    async def ran() -> bool:
        return await job_state(running, found[1]) is JobState.SUCCEEDED

    await wait_until(ran, TIMEOUT, "the schedule's job to run", running.fail)


async def test_strangers_forgers_and_viewers_cannot_act(running: Fleet, browser: Any) -> None:
    stranger = await browser.new_context()  # no credentials to give
    answer = await stranger.request.get(running.dashboard)
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Basic")

    page = await signed_in(browser)
    await page.goto(f"{running.dashboard}queues")
    forged = await page.request.post(f"{running.dashboard}actions/pause", form={"queue": "mail"})
    assert forged.status == 403  # no CSRF token

    viewer = await signed_in(browser, VIEWER)
    await viewer.goto(f"{running.dashboard}queues")
    assert await viewer.locator("button:has-text('Pause')").count() == 0
    token = await viewer.get_attribute("body", "hx-headers")
    assert token is not None
    csrf = re.search(r'"x-csrf-token": "(\w+)"', token)
    assert csrf
    refused = await viewer.request.post(
        f"{running.dashboard}actions/pause", form={"queue": "mail", "csrf_token": csrf[1]}
    )
    assert refused.status == 403
    assert await (await running.app.connected()).paused_queues() == frozenset()


async def test_the_phone_layout_and_dark_scheme_render(
    running: Fleet, browser: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    context = await browser.new_context(
        http_credentials={"username": OPERATOR[0], "password": OPERATOR[1]},
        viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True,
    )  # fmt: skip
    page = await context.new_page()
    await page.goto(running.dashboard)
    await page.wait_for_selector("canvas")
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 19, 24)"  # the dark palette
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone: tables scroll inside their frame
    await shoot(page, request, tmp_path, "overview-phone-dark")
    async with httpx.AsyncClient() as http:
        assert (await http.get(running.dashboard)).status_code == 401


HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


async def test_updates_pause_while_the_tab_is_hidden(running: Fleet, browser: Any) -> None:
    page = await signed_in(browser)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.endswith("/queues") else None)
    await page.goto(f"{running.dashboard}queues")
    await fetched_at_least(page, fetched, 2, within=10)  # the page, then an update (every 3 s)
    await page.evaluate(HIDE)
    hidden_at = len(fetched)
    await page.wait_for_timeout(7000)  # two updates' worth of time: none may come
    assert len(fetched) == hidden_at
    assert await page.get_attribute("body", "class") == "paused"
    await page.evaluate(SHOW)
    await fetched_at_least(page, fetched, hidden_at + 1, within=1.5)  # at once, not in 3 s
    assert len(fetched) == hidden_at + 1


async def fetched_at_least(page: Any, fetched: list[str], count: int, within: float) -> None:
    """Wait up to `within` seconds (a loaded machine is slow) for `count` fetches."""
    for _ in range(int(within * 10)):
        if len(fetched) >= count:
            return
        await page.wait_for_timeout(100)
    assert len(fetched) >= count, fetched
