"""What every page shares: the app and its store, the templates, the settings."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import urllib.parse
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from conveyor.app import Conveyor
from conveyor.backends.base import Backend
from conveyor.dashboard.charts import SharedReads
from conveyor.dashboard.guard import CSRF_FIELD, CSRF_HEADER, csrf_token_of, user_of
from conveyor.dashboard.present import Presenter, ago, clock, duration, utc, zoned
from conveyor.job import JobState
from conveyor.redact import Redactor

NOTICE_COOKIE = "conveyor_dashboard_notice"
HTMX_STOP_POLLING = 286  # htmx stops polling an element answered with this status
LIVE_BLOCK = "live"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    title: str = "conveyor"
    refresh: float = 3.0  # seconds between two updates of a page's live parts
    batch_limit: int = 10_000  # jobs an action on "all that match" touches at most


class Site:
    def __init__(self, conveyor: Conveyor, settings: Settings, redactor: Redactor) -> None:
        self.conveyor = conveyor
        self.settings = settings
        self.presenter = Presenter(conveyor, redactor)
        self.redactor = redactor
        self.charts = SharedReads(fresh_for=min(settings.refresh, 5.0))
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("conveyor.dashboard", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(
            clock=clock, utc=utc, duration=duration, number=_number, percent=_percent, path=_path
        )
        self.templates.globals.update(states=list(JobState), zoned=zoned)
        try:
            self.version = importlib.metadata.version("conveyor")
        except importlib.metadata.PackageNotFoundError:
            self.version = "dev"

    async def backend(self) -> Backend:
        return await self.conveyor.connected()

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        now: float | None = None,
        live_status: int | None = None,
        **context: Any,
    ) -> Response:
        """A page, or only its live block when htmx asks for it (with `live_status`)."""
        root = root_of(request)
        user = user_of(request)
        notice = request.cookies.get(NOTICE_COOKIE)
        values = {
            "request": request,
            "root": root,
            "user": user,
            "csrf_field": CSRF_FIELD,
            "csrf_header": CSRF_HEADER,
            "csrf_token": csrf_token_of(request),
            "title": self.settings.title,
            "refresh": self.settings.refresh,
            "version": self.version,
            "now": now,
            "ago": (lambda epoch: ago(epoch, now)) if now is not None else None,
            "notice": urllib.parse.unquote(notice) if notice else None,
            **context,
        }
        page = self.templates.get_template(template)
        if request.headers.get("hx-request") and LIVE_BLOCK in page.blocks:
            html = "".join(page.blocks[LIVE_BLOCK](page.new_context(values)))
            return HTMLResponse(html, live_status or status)
        response = HTMLResponse(page.render(values), status)
        if notice is not None:
            response.delete_cookie(NOTICE_COOKIE, path=root or "/")
        return response


def root_of(request: Request) -> str:
    """The path the dashboard is served under ("" standalone, "/conveyor" mounted there)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _path(text: str) -> str:
    """A job id as a URL path: quoted where needed, its ":" and "/" kept."""
    return urllib.parse.quote(text, safe="/:@-._~!$'()*+,;=")


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")  # a narrow space: 12 345


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"
