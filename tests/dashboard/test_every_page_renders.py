"""Every page, read from a real store holding jobs of every state."""

from __future__ import annotations

import datetime
import html
import zoneinfo

from conveyor import Conveyor
from conveyor.dashboard.present import utc

from .support import WORKER, Seeded, client


async def test_the_overview_shows_the_queues_the_workers_and_the_last_hour(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        page = await http.get("/")
    assert page.status_code == 200
    text = page.text
    for queue in ("emails", "reports", "default"):
        assert f">{queue}</a>" in text
    assert WORKER in text
    assert '1</span><span class="label">worker online' in text
    # one success, one failure and one retry of the seeding, plus the workflow's first step
    assert '<span class="value">2</span><span class="label">succeeded, last hour' in text
    assert '<span class="value">1</span><span class="label">failed, last hour' in text
    assert '<span class="value">1</span><span class="label">retried, last hour' in text
    assert 'data-chart="/api/outcomes?window=hour"' in text


async def test_the_charts_count_the_outcomes_per_minute(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        hour = (await http.get("/api/outcomes", params={"window": "hour"})).json()
        day = (await http.get("/api/outcomes", params={"window": "day"})).json()
        wrong = await http.get("/api/outcomes", params={"window": "year"})
    assert len(hour["t"]) == 60
    assert len(day["t"]) == 1440
    assert hour["t"] == sorted(hour["t"])
    assert hour["t"][1] - hour["t"][0] == 60
    assert (sum(hour["succeeded"]), sum(hour["failed"]), sum(hour["retried"])) == (2, 1, 1)
    assert sum(day["succeeded"]) == 2
    assert wrong.status_code == 400


async def test_the_jobs_page_lists_jobs_of_every_state(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        page = await http.get("/jobs")
    assert page.status_code == 200
    for state, job_id in seeded.by_state().items():
        assert f'href="/jobs/{job_id}"' in page.text, state
        assert f'<span class="state state-{state}">{state}</span>' in page.text
    assert "ConnectionError: smtp.example.com refused the connection" in page.text


async def test_a_jobs_page_shows_each_state(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        for state, job_id in seeded.by_state().items():
            page = await http.get(f"/jobs/{job_id}")
            assert page.status_code == 200, (state, page.text)
            assert f'<span class="state state-{state} big">{state}</span>' in page.text
            assert job_id in page.text


async def test_a_failed_jobs_page_shows_its_error_and_whole_traceback(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        page = (await http.get(f"/jobs/{seeded.failed}")).text
    text = html.unescape(page)
    assert "<strong>ConnectionError</strong>: smtp.example.com refused the connection" in text
    assert 'File "/srv/app/mail.py", line 12, in send_welcome' in text
    assert "    raise ConnectionError(host)" in text
    assert '"to": "refused@example.com"' in text
    assert "Attempts</dt><dd>1 of 3" in text
    assert f"<code>{WORKER}</code>" in text
    assert ">Retry</button>" in text


async def test_a_jobs_page_lists_each_attempt_with_its_worker_times_and_outcome(
    app: Conveyor, seeded: Seeded
) -> None:
    backend = await app.connected()
    retried = await backend.get(seeded.retried)
    assert retried is not None
    (attempt,) = retried.history
    async with client(app) as http:
        waiting = html.unescape((await http.get(f"/jobs/{seeded.retried}")).text)
        running = html.unescape((await http.get(f"/jobs/{seeded.active}")).text)
        fresh = html.unescape((await http.get(f"/jobs/{seeded.queued}")).text)

    section = waiting.split('<section class="attempts">')[1].split("</section>")[0]
    assert f"<td>1</td>\n        <td><code>{WORKER}</code></td>" in section
    assert f'<time datetime="{utc(attempt.started_at)}">' in section
    assert '<span class="outcome outcome-retried">retried</span>' in section
    assert "ConnectionError: smtp.example.com refused the connection" in section
    assert "outcome-running" not in section
    section = running.split('<section class="attempts">')[1].split("</section>")[0]
    assert '<span class="outcome outcome-running">running</span>' in section
    assert f"<code>{WORKER}</code>" in section
    assert "none yet" in fresh.split('<section class="attempts">')[1].split("</section>")[0]


async def test_a_running_jobs_page_shows_its_worker_and_offers_to_stop_it(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        page = (await http.get(f"/jobs/{seeded.active}")).text
    assert f"<code>{WORKER}</code>" in page
    assert "Running for" in page
    assert "Ask it to stop" in page


async def test_a_workflow_steps_page_lists_every_step_and_its_state(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        page = (await http.get(f"/jobs/{seeded.workflow}:1")).text
    assert f"Workflow <code>{seeded.workflow}</code>" in page
    assert "A chain of 2" in page
    assert f'href="/jobs/{seeded.workflow}:0"' in page
    assert '<span class="state state-succeeded">succeeded</span>' in page
    assert '<span class="state state-queued">queued</span>' in page


async def test_an_unknown_job_answers_404(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        page = await http.get("/jobs/no-such-job")
    assert page.status_code == 404
    assert "No job <code>no-such-job</code>" in page.text


async def test_the_workers_page_shows_what_each_worker_runs(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        page = (await http.get("/workers")).text
    assert f"<code>{WORKER}</code>" in page
    assert "worker-1.example, pid 4242" in page
    assert "<dd>1 of 8</dd>" in page  # running of concurrency
    assert f'href="/jobs/{seeded.active}"' in page
    assert "2 min" in page  # up since two minutes


async def test_the_queues_page_offers_pause_and_resume(app: Conveyor, seeded: Seeded) -> None:
    backend = await app.connected()
    await backend.pause_queue("reports")
    async with client(app) as http:
        page = (await http.get("/queues")).text
    assert '<input type="hidden" name="queue" value="reports">' in page
    assert ">Resume</button>" in page
    assert ">Pause</button>" in page
    assert '<span class="state state-paused">paused</span>' in page


async def test_the_schedules_page_shows_the_next_run_and_offers_to_run_now(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        page = (await http.get("/schedules")).text
    assert "nightly-cleanup" in page
    assert "<code>0 3 * * *</code>" in page
    assert "Europe/Paris" in page
    assert "ops.nightly" in page
    assert "not in the store" in page  # no worker ran its last tick
    assert ">Run now</button>" in page


async def test_a_live_part_comes_alone_when_htmx_asks(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        fragment = await http.get("/queues", headers={"HX-Request": "true"})
        finished = await http.get(f"/jobs/{seeded.succeeded}", headers={"HX-Request": "true"})
        running = await http.get(f"/jobs/{seeded.active}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "<table" in fragment.text
    assert finished.status_code == 286  # htmx stops polling a finished job
    assert running.status_code == 200


async def test_a_schedules_next_run_is_shown_in_its_timezone(app: Conveyor, seeded: Seeded) -> None:
    backend = await app.connected()
    upcoming = app.schedules["nightly-cleanup"].next_tick(await backend.now())
    assert upcoming is not None
    async with client(app) as http:
        page = (await http.get("/schedules")).text
    local = datetime.datetime.fromtimestamp(upcoming, zoneinfo.ZoneInfo("Europe/Paris"))
    assert local.strftime("%Y-%m-%d 03:00 ") in page  # 03:00 Paris time, CET or CEST
