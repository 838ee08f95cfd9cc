"""What the browser is told to allow, and what the pages never show."""

from __future__ import annotations

import html
from pathlib import Path

from conveyor import Conveyor

from .support import Seeded, client


async def test_every_answer_carries_the_security_headers(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        answers = [
            await http.get("/"), await http.get("/jobs"), await http.get("/static/dashboard.js"),
            await http.get("/jobs/no-such-job"), await http.get("/nowhere"),
        ]  # fmt: skip
    async with client(app, auth=None) as anonymous:
        answers.append(await anonymous.get("/"))
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_pages_hold_no_inline_script_or_style(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        for path in ("/", "/jobs", f"/jobs/{seeded.failed}", "/workers", "/queues", "/schedules"):
            page = (await http.get(path)).text
            assert "<script>" not in page
            assert "<style" not in page
            assert " style=" not in page
            assert " on" + "click=" not in page
            assert "no-store" in (await http.get(path)).headers["cache-control"]


async def test_secrets_in_arguments_results_and_headers_are_redacted(app: Conveyor) -> None:
    send = app.tasks["mail.send_welcome"]
    from .support import email

    handle = await send.options(
        headers={"Authorization": "Bearer abc.def", "tenant": "t1"}
    ).enqueue(
        "ada@example.com",
        email("x")[1],
        "sk-live-123",
        {"password": "pw-42", "nested": {"refresh_token": "rt-9"}, "max_tokens": 512},
    )
    async with client(app) as http:
        page = html.unescape((await http.get(f"/jobs/{handle.id}")).text)
    for secret in ("hunter2", "sk-live-123", "pw-42", "rt-9", "abc.def"):
        assert secret not in page, secret
    assert '"password": "[redacted]"' in page
    assert '"api_key": "[redacted]"' in page
    assert '"refresh_token": "[redacted]"' in page
    assert '"max_tokens": 512' in page  # a count, not a token
    assert "ada@example.com" in page
    assert "t1" in page


async def test_an_unknown_tasks_payload_is_redacted_by_its_keys(app: Conveyor) -> None:
    from conveyor.job import JobRecord

    backend = await app.connected()
    payload = b'{"user": "ada", "db_password": "pw-42", "clientSecret": "cs-7"}'
    await backend.enqueue(
        [JobRecord(id="foreign-1", task="other.app.task", queue="x", payload=payload)]
    )
    async with client(app) as http:
        page = html.unescape((await http.get("/jobs/foreign-1")).text)
    assert "pw-42" not in page
    assert "cs-7" not in page
    assert '"user": "ada"' in page
    assert "the task is not registered here" in page


async def test_a_succeeded_jobs_result_is_redacted(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        page = html.unescape((await http.get(f"/jobs/{seeded.succeeded}")).text)
    assert '"session_token": "[redacted]"' in page
    assert '"to": "ok@example.com"' in page


async def test_a_store_that_cannot_be_reached_is_a_page_saying_so(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path}/missing-folder/jobs.db")
    async with client(app, auth=None, open_access=True) as http:
        page = await http.get("/jobs")
    assert page.status_code == 503
    assert "BackendUnavailable" in page.text
    assert page.headers["x-frame-options"] == "DENY"
