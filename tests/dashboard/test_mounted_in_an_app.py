"""The dashboard mounted inside a FastAPI app, behind the app's own check."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.requests import Request

from conveyor import Conveyor
from conveyor.dashboard import Role, User, dashboard_app

from .support import Seeded, csrf_token, post


def host_app(conveyor: Conveyor) -> FastAPI:
    api = FastAPI()

    def authorize(request: Request) -> User | None:
        """The host's own rule: here, a header its proxy sets after single sign-on."""
        name = request.headers.get("x-forwarded-user")
        if name is None:
            return None
        return User(name, Role.OPERATOR if name.startswith("admin-") else Role.VIEWER)

    @api.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    api.mount("/conveyor", dashboard_app(conveyor, authorize=authorize))
    return api


async def test_links_cookies_and_actions_live_under_the_mount(
    app: Conveyor, seeded: Seeded
) -> None:
    transport = httpx.ASGITransport(app=host_app(app))
    headers = {"x-forwarded-user": "admin-ada"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=headers
    ) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        page = await http.get("/conveyor/jobs?state=failed")
        assert page.status_code == 200
        assert f'href="/conveyor/jobs/{seeded.failed}"' in page.text
        assert 'src="/conveyor/static/vendor/htmx.min.js' in page.text
        assert "Path=/conveyor" in page.headers["set-cookie"]
        assert (await http.get("/conveyor/static/vendor/htmx.min.js")).status_code == 200
        token = await csrf_token(http, "/conveyor/jobs")
        done = await post(http, "/conveyor/actions/retry", {"job": seeded.failed}, token)
        assert done.headers["location"] == "/conveyor/jobs"
        http.headers["x-forwarded-user"] = "bob"
        assert (await http.get("/conveyor/")).status_code == 200
        token = await csrf_token(http, "/conveyor/jobs")
        refused = await post(http, "/conveyor/actions/pause", {"queue": "emails"}, token)
        assert refused.status_code == 403
        del http.headers["x-forwarded-user"]
        assert (await http.get("/conveyor/")).status_code == 403
        assert (await http.get("/health")).status_code == 200  # the host app is untouched
    record = await (await app.connected()).get(seeded.failed)
    assert record is not None
    assert record.state.value == "queued"
