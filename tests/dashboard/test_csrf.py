"""Every POST needs the session's CSRF token; without it nothing changes."""

from __future__ import annotations

from conveyor import Conveyor
from conveyor.job import JobState

from .support import OPERATOR, Seeded, client, csrf_token, post


async def failed_state(app: Conveyor, seeded: Seeded) -> JobState:
    record = await (await app.connected()).get(seeded.failed)
    assert record is not None
    return record.state


async def test_a_post_without_the_token_is_refused(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        await http.get("/jobs")  # a session, but no token sent back
        answer = await http.post("/actions/retry", data={"job": seeded.failed})
    assert answer.status_code == 403
    assert "security token is missing or stale" in answer.text
    assert await failed_state(app, seeded) is JobState.FAILED


async def test_a_wrong_token_is_refused(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        token = await csrf_token(http)
        forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
        for wrong in (forged, "", "x" * 64, token.upper()):
            answer = await post(http, "/actions/retry", {"job": seeded.failed}, wrong)
            assert answer.status_code == 403, wrong
    assert await failed_state(app, seeded) is JobState.FAILED


async def test_a_token_of_another_session_is_refused(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as theirs:
        their_token = await csrf_token(theirs)
    async with client(app) as mine:
        await mine.get("/jobs")
        answer = await post(mine, "/actions/retry", {"job": seeded.failed}, their_token)
    assert answer.status_code == 403
    assert await failed_state(app, seeded) is JobState.FAILED


async def test_the_token_may_come_in_a_header(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        token = await csrf_token(http)
        answer = await http.post(
            "/actions/retry", data={"job": seeded.failed}, headers={"X-CSRF-Token": token}
        )
    assert answer.status_code == 303
    assert await failed_state(app, seeded) is JobState.QUEUED


async def test_a_post_a_browser_says_came_from_another_site_is_refused(
    app: Conveyor, seeded: Seeded
) -> None:
    async with client(app) as http:
        token = await csrf_token(http)
        http.headers["Sec-Fetch-Site"] = "cross-site"
        answer = await post(http, "/actions/retry", {"job": seeded.failed}, token)
    assert answer.status_code == 403
    assert await failed_state(app, seeded) is JobState.FAILED


async def test_the_session_cookie_is_http_only_same_site_and_scoped(app: Conveyor) -> None:
    async with client(app) as http:
        answer = await http.get("/")
        again = await http.get("/")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("conveyor_dashboard_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "set-cookie" not in again.headers  # one session per browser


async def test_other_methods_are_refused(app: Conveyor, seeded: Seeded) -> None:
    async with client(app, auth=OPERATOR) as http:
        token = await csrf_token(http)
        answer = await http.put("/actions/retry", headers={"X-CSRF-Token": token})
        delete = await http.delete(f"/jobs/{seeded.failed}", headers={"X-CSRF-Token": token})
    assert answer.status_code == 405
    assert delete.status_code == 405


async def test_a_post_that_is_not_a_form_is_refused(app: Conveyor, seeded: Seeded) -> None:
    async with client(app) as http:
        token = await csrf_token(http)
        answer = await http.post(
            "/actions/retry", json={"job": seeded.failed}, headers={"X-CSRF-Token": token}
        )
    assert answer.status_code == 415
    assert await failed_state(app, seeded) is JobState.FAILED
