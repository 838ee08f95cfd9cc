"""Retry, cancel and delete from the pages; pause and resume a queue; run a schedule now."""

from __future__ import annotations

import urllib.parse

import pytest

from conveyor import Conveyor
from conveyor.backends.base import JobFilter, JobPage
from conveyor.dashboard import actions
from conveyor.job import JobState

from .support import Seeded, client, csrf_token, post


def notice(answer_cookies: str) -> str:
    return urllib.parse.unquote(answer_cookies.split("conveyor_dashboard_notice=")[1].split(";")[0])


async def state(app: Conveyor, job_id: str) -> JobState | None:
    record = await (await app.connected()).get(job_id)
    return None if record is None else record.state


async def test_retry_queues_a_failed_job_again(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        answer = await post(
            http, "/actions/retry", {"job": seeded.failed, "next": f"/jobs/{seeded.failed}"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/jobs/{seeded.failed}"
        assert notice(answer.headers["set-cookie"]) == "retried 1 job"
        shown = await http.get(answer.headers["location"])
    assert await state(app, seeded.failed) is JobState.QUEUED
    assert "retried 1 job" in shown.text  # the notice, once


async def test_cancel_stops_a_pending_job_and_asks_a_running_one(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        answer = await post(http, "/actions/cancel", {"job": [seeded.queued, seeded.active]})
    assert notice(answer.headers["set-cookie"]) == "cancelled 2 jobs"
    backend = await app.connected()
    assert await state(app, seeded.queued) is JobState.CANCELLED
    active = await backend.get(seeded.active)
    assert active is not None
    assert active.cancel_requested


async def test_a_job_an_action_does_not_apply_to_is_left_alone(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        answer = await post(
            http, "/actions/retry", {"job": [seeded.succeeded, "gone-job", seeded.failed]}
        )
    assert notice(answer.headers["set-cookie"]).startswith("retried 1 job; 2 left alone")
    assert await state(app, seeded.succeeded) is JobState.SUCCEEDED


async def test_retry_all_that_match_counts_them_first(app: Conveyor, seeded: Seeded) -> None:
    backend = await app.connected()
    await backend.cancel(seeded.queued)  # now two jobs can be retried: failed, cancelled x2
    filters = {"scope": "matching", "state": "cancelled", "next": "/jobs?state=cancelled"}
    async with client(app) as http:
        asked = await post(http, "/actions/retry", filters)
        assert asked.status_code == 200
        assert "<strong>2</strong> jobs match" in asked.text
        assert "Retry 2 jobs</button>" in asked.text
        assert await state(app, seeded.queued) is JobState.CANCELLED  # nothing done yet
        done = await post(http, "/actions/retry", {**filters, "confirmed": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/jobs?state=cancelled"
    assert notice(done.headers["set-cookie"]) == "retried 2 jobs"
    assert await state(app, seeded.queued) is JobState.QUEUED
    assert await state(app, seeded.cancelled) is JobState.QUEUED
    assert await state(app, seeded.failed) is JobState.FAILED  # it did not match


async def test_all_that_match_stops_at_the_batch_limit(app: Conveyor) -> None:
    add = app.tasks["math.add"]
    ids = [(await add.enqueue(i, 1)).id for i in range(7)]
    filters = {"scope": "matching", "queue": "default"}
    async with client(app, batch_limit=5) as http:
        asked = await post(http, "/actions/cancel", filters)
        assert "more than 5 do" in asked.text
        done = await post(http, "/actions/cancel", {**filters, "confirmed": "yes"})
    assert "cancelled 5 jobs (the first 5 that matched" in notice(done.headers["set-cookie"])
    states = [await state(app, job_id) for job_id in ids]
    assert states.count(JobState.CANCELLED) == 5  # the newest five
    assert states[:2] == [JobState.QUEUED, JobState.QUEUED]


async def test_delete_all_the_failed_jobs_of_a_queue(app: Conveyor, seeded: Seeded) -> None:
    filters = {"scope": "matching", "state": "failed", "queue": "emails"}
    async with client(app) as http:
        asked = await post(http, "/actions/delete", filters)
        assert "<strong>1</strong> job matches" in asked.text
        assert "Delete 1 job</button>" in asked.text
        done = await post(http, "/actions/delete", {**filters, "confirmed": "yes"})
    assert notice(done.headers["set-cookie"]) == "deleted 1 job"
    assert await state(app, seeded.failed) is None
    assert await state(app, seeded.succeeded) is JobState.SUCCEEDED


async def test_a_state_is_counted_by_the_store_and_acted_on_a_page_at_a_time(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = await app.connected()
    add = app.tasks["math.add"]
    ids = [(await add.enqueue(i, 1)).id for i in range(7)]
    for job_id in ids:
        await backend.cancel(job_id)
    listed: list[int] = []
    page_jobs = backend.page_jobs

    async def counted_page_jobs(query: JobFilter) -> JobPage:
        listed.append(query.limit)
        return await page_jobs(query)

    monkeypatch.setattr(backend, "page_jobs", counted_page_jobs)
    monkeypatch.setattr(actions, "PAGE", 2)
    filters = {"scope": "matching", "state": "cancelled", "queue": "default"}
    async with client(app, batch_limit=5) as http:
        token = await csrf_token(http, "/queues")
        asked = await post(http, "/actions/retry", filters, token)
        assert listed == []  # counted, not listed
        assert "<strong>7</strong> jobs match" in asked.text
        assert "the newest 5 are retried now" in asked.text
        assert "Retry 5 jobs</button>" in asked.text
        done = await post(http, "/actions/retry", {**filters, "confirmed": "yes"}, token)
    assert listed == [2, 2, 2]  # the last one reads a job past the limit: there are more
    assert "retried 5 jobs (the first 5 that matched" in notice(done.headers["set-cookie"])
    states = [await state(app, job_id) for job_id in ids]
    assert states == [JobState.CANCELLED] * 2 + [JobState.QUEUED] * 5  # the newest five


async def test_delete_chosen_finished_jobs(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        page = await http.get(f"/jobs/{seeded.succeeded}")
        done = await post(http, "/actions/delete", {"job": [seeded.succeeded, seeded.queued]})
    assert 'formaction="/actions/delete"' in page.text
    assert "disabled" not in page.text
    assert notice(done.headers["set-cookie"]).startswith("deleted 1 job; 1 left alone")
    assert await state(app, seeded.succeeded) is None
    assert await state(app, seeded.queued) is JobState.QUEUED


async def test_pause_and_resume_a_queue(app: Conveyor, seeded: Seeded) -> None:
    backend = await app.connected()
    async with client(app) as http:
        token = await csrf_token(http, "/queues")
        paused = await post(http, "/actions/pause", {"queue": "reports", "next": "/queues"}, token)
        assert paused.headers["location"] == "/queues"
        assert await backend.paused_queues() == frozenset({"reports"})
        assert await backend.claim(["reports"], 10, "w", 30.0) == []
        await post(http, "/actions/resume", {"queue": "reports"}, token)
        assert await backend.paused_queues() == frozenset()
        bad = await post(http, "/actions/pause", {"queue": "no spaces allowed"}, token)
    assert "is not a queue name" in notice(bad.headers["set-cookie"])


async def test_run_a_schedule_now(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        done = await post(
            http, "/actions/run", {"schedule": "nightly-cleanup", "next": "/schedules"}
        )
        missing = await post(http, "/actions/run", {"schedule": "nope"})
    text = notice(done.headers["set-cookie"])
    assert text.startswith("schedule nightly-cleanup: job ")
    assert text.endswith(" enqueued")
    job_id = text.split("job ")[1].split()[0]
    record = await (await app.connected()).get(job_id)
    assert record is not None
    assert record.task == "ops.nightly"
    assert record.state is JobState.QUEUED
    assert record.headers["run_by"] == "dashboard:ops"
    assert "no schedule named 'nope'" in notice(missing.headers["set-cookie"])


async def test_a_redirect_never_leaves_the_dashboard(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            answer = await post(http, "/actions/retry", {"job": seeded.failed, "next": target})
            assert answer.headers["location"] == "/jobs", target
