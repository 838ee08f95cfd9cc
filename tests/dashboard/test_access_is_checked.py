"""Who gets in, and who may act: Basic credentials, the host app's check, roles."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conveyor import ConfigurationError, Conveyor
from conveyor.dashboard import Role, User, dashboard_app
from conveyor.job import JobState

from .support import OPERATOR, VIEWER, Seeded, client, csrf_token, post


async def test_no_credentials_get_a_401_with_a_challenge(app: Conveyor, seeded: Seeded) -> None:
    async with client(app, auth=None) as http:
        for path in ("/", "/jobs", f"/jobs/{seeded.failed}", "/static/dashboard.css"):
            answer = await http.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"].startswith('Basic realm="conveyor dashboard"')
            assert seeded.failed not in answer.text


async def test_a_wrong_password_or_user_gets_a_401(app: Conveyor, seeded: Seeded) -> None:
    for auth in ((OPERATOR[0], "wrong"), ("nobody", OPERATOR[1]), (OPERATOR[0], ""), ("", "")):
        async with client(app, auth=auth) as http:
            assert (await http.get("/")).status_code == 401, auth


async def test_a_malformed_authorization_header_gets_a_401(app: Conveyor) -> None:
    async with client(app, auth=None) as http:
        for header in ("Basic !!!", "Basic " + "dXNlcg==", "Bearer abc", "Basic"):
            answer = await http.get("/", headers={"Authorization": header})
            assert answer.status_code == 401, header


async def test_a_viewer_looks_but_cannot_act(app: Conveyor, seeded: Seeded) -> None:
    async with client(app, auth=VIEWER) as http:
        page = await http.get(f"/jobs/{seeded.failed}")
        assert page.status_code == 200
        assert ">Retry</button>" not in page.text
        assert "read-only" in page.text
        answer = await post(http, "/actions/retry", {"job": seeded.failed})
    assert answer.status_code == 403
    assert "may look but not act" in answer.text
    assert (await (await app.connected()).get(seeded.failed)).state is JobState.FAILED  # type: ignore[union-attr]


async def test_read_only_mode_stops_even_an_operator(app: Conveyor, seeded: Seeded) -> None:
    async with client(app, auth=OPERATOR, read_only=True) as http:
        assert "Pause</button>" not in (await http.get("/queues")).text
        answer = await post(http, "/actions/pause", {"queue": "emails"}, await csrf_token(http))
    assert answer.status_code == 403
    assert await (await app.connected()).paused_queues() == frozenset()


async def test_the_host_apps_check_decides(app: Conveyor, seeded: Seeded) -> None:
    def authorize(request: Request) -> User | Response | None:
        who = request.headers.get("x-user")
        if who == "ada":
            return User("ada", Role.OPERATOR)
        if who == "bob":
            return User("bob", Role.VIEWER)
        if who is None:
            return RedirectResponse("/login", 302)
        return None

    async with client(app, auth=None, authorize=authorize) as http:
        assert (await http.get("/", headers={"x-user": "ada"})).status_code == 200
        redirected = await http.get("/")
        assert redirected.status_code == 302
        assert redirected.headers["location"] == "/login"
        assert (await http.get("/", headers={"x-user": "eve"})).status_code == 403
        http.headers["x-user"] = "bob"
        looked = await http.get("/queues")
        assert looked.status_code == 200
        assert "bob" in looked.text
        acted = await post(http, "/actions/pause", {"queue": "emails"})
        assert acted.status_code == 403
        http.headers["x-user"] = "ada"
        acted = await post(http, "/actions/pause", {"queue": "emails"})
        assert acted.status_code == 303
    assert await (await app.connected()).paused_queues() == frozenset({"emails"})


async def test_an_async_check_works_too(app: Conveyor) -> None:
    async def authorize(request: Request) -> User | None:
        return User("async-ada") if request.cookies.get("session") == "s1" else None

    async with client(app, auth=None, authorize=authorize) as http:
        http.cookies.set("session", "s1")
        assert (await http.get("/")).status_code == 200
        http.cookies.set("session", "s2")
        assert (await http.get("/")).status_code == 403


def test_a_dashboard_nobody_can_enter_is_refused(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="lets nobody in"):
        dashboard_app(app)
    with pytest.raises(ConfigurationError, match="not both"):
        dashboard_app(app, auth="a:b", authorize=lambda request: None)
    with pytest.raises(ConfigurationError, match="USER:PASSWORD"):
        dashboard_app(app, auth="no-colon")


async def test_open_on_loopback_answers_loopback_host_names_only(app: Conveyor) -> None:
    hosts = ["localhost", "127.0.0.1", "::1"]
    async with client(app, auth=None, open_access=True, allowed_hosts=hosts) as http:
        assert (await http.get("/", headers={"host": "127.0.0.1:8181"})).status_code == 200
        assert (await http.get("/", headers={"host": "localhost"})).status_code == 200
        assert (await http.get("/", headers={"host": "[::1]:8181"})).status_code == 200
        rebound = await http.get("/", headers={"host": "evil.example:8181"})
    assert rebound.status_code == 400
