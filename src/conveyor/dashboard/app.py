"""`dashboard_app`: the dashboard as a Starlette app, to mount or to serve on its own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from conveyor.app import Conveyor
from conveyor.dashboard.access import Authorize, BasicAuth, Credentials, credentials_of
from conveyor.dashboard.actions import Actions
from conveyor.dashboard.guard import Access, Guard
from conveyor.dashboard.pages import Pages
from conveyor.dashboard.site import Settings, Site
from conveyor.errors import BackendUnavailable, ConfigurationError
from conveyor.redact import Redactor

STATIC = Path(__file__).parent / "static"
logger = logging.getLogger("conveyor.dashboard")
Endpoint = Callable[[Request], Awaitable[Response]]


def dashboard_app(
    conveyor: Conveyor,
    *,
    authorize: Authorize | None = None,
    auth: str | Credentials | Iterable[Credentials | str] | None = None,
    read_only: bool = False,
    open_access: bool = False,
    allowed_hosts: Sequence[str] | None = None,
    csrf_secret: str | bytes | None = None,
    redact: Iterable[str] = (),
    refresh: float = 3.0,
    batch_limit: int = 10_000,
    title: str = "conveyor",
) -> Starlette:
    """The dashboard of `conveyor`'s store: `api.mount("/conveyor", dashboard_app(...))`.

    Who gets in (one of these is required):
      authorize: your app's check, called with each request (sync or async): return a
        `User(name, Role.OPERATOR or Role.VIEWER)`, None to refuse (403), or a response
        to send instead (a redirect to your login page, say). It sees what your middleware
        put in the request's scope (`request.user`, `request.session`, cookies).
      auth: HTTP Basic credentials, "USER:PASSWORD" or `Credentials(user, password, role)`,
        one or several.
      open_access: let anyone who reaches it in, as an operator. Only behind your own
        access control, or on a loopback address (`conveyor dashboard` does that).
    read_only: everyone may look, nobody may act, whatever their role.
    allowed_hosts: the Host header names it answers (None: any).
    csrf_secret: the key of the forms' CSRF tokens. A random one per process by default:
      give the same one to every process when several serve the dashboard.
    redact: more key fragments whose values are hidden (besides password, token, secret,
      api_key, authorization...).
    refresh: seconds between two updates of a page. batch_limit: at most this many jobs
    are touched by one action on "all that match".
    """
    credentials = credentials_of(auth)
    if authorize is not None and credentials:
        raise ConfigurationError("give the dashboard authorize= or auth=, not both")
    if authorize is None and not credentials and not open_access:
        raise ConfigurationError(
            "the dashboard lets nobody in: give authorize= (your app's check of the "
            "request), auth='USER:PASSWORD', or open_access=True if something in front of "
            "it already checks who comes in"
        )
    if authorize is not None and not callable(authorize):
        raise ConfigurationError(
            f"authorize must be a callable taking the request, got {authorize!r}"
        )
    if refresh <= 0 or batch_limit < 1:
        raise ConfigurationError("refresh must be positive and batch_limit at least 1")
    secret = csrf_secret.encode() if isinstance(csrf_secret, str) else csrf_secret
    access = Access(
        basic=BasicAuth(credentials) if credentials else None,
        authorize=authorize,
        open_access=open_access,
        read_only=read_only,
        allowed_hosts=None if allowed_hosts is None else [h.lower() for h in allowed_hosts],
        **({"csrf_secret": secret} if secret else {}),
    )
    site = Site(conveyor, Settings(title, refresh, batch_limit), Redactor(redact))
    pages = Pages(site)
    actions = Actions(site)

    def answering(endpoint: Endpoint) -> Endpoint:
        """The endpoint, whose failure (the store away, say) is a page saying so, sent
        with the guard's headers, and a logged traceback."""

        async def answer(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception as exc:
                away = isinstance(exc, BackendUnavailable | OSError)
                if away:  # every open page asks again every few seconds: no traceback each
                    logger.warning("%s %s: %s", request.method, request.url.path, exc)
                else:
                    logger.exception("%s %s failed", request.method, request.url.path)
                status = 503 if away else 500
                message = f"{type(exc).__name__}: {exc}"[:500]
                return site.render(request, "error.html", status=status, page="", message=message)

        return answer

    routes = [
        Route("/", answering(pages.overview), name="overview"),
        Route("/api/outcomes", answering(pages.outcomes), name="outcomes"),
        Route("/jobs", answering(pages.jobs), name="jobs"),
        Route("/jobs/{job_id:path}", answering(pages.job), name="job"),
        Route("/workers", answering(pages.workers), name="workers"),
        Route("/queues", answering(pages.queues), name="queues"),
        Route("/schedules", answering(pages.schedules), name="schedules"),
        Route("/actions/{verb}", answering(actions.act), methods=["POST"], name="act"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, access=access)])
