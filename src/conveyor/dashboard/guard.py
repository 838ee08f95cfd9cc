"""The dashboard's front door: every request passes here before any page or action.

In order: security headers on every answer (a strict Content-Security-Policy, no framing,
no referrer); the Host header when the app is open on a loopback address (so a web page
cannot reach it through DNS rebinding); who the user is (`access`), or 401/403; and for
every request that is not a GET or HEAD, the CSRF check and the role check.

CSRF: each browser session gets a random id in a cookie (HttpOnly, SameSite=Lax, Secure
over HTTPS, scoped to the dashboard's path). A page carries the session's token, an HMAC of
that id and the user's name under the app's secret, in every form (and in a header for
htmx); a POST must bring it back. A cross-site page can neither read the token nor forge it.
The form is read here, bounded, and handed to the routes in the request's scope.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import secrets
import urllib.parse
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.dashboard import audit
from conveyor.dashboard.access import Authorize, BasicAuth, Role, User, decide

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
SESSION_COOKIE = "conveyor_dashboard_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 2_000_000
MAX_FORM_FIELDS = 20_000
SAFE_METHODS = frozenset({"GET", "HEAD"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# where the routes find what the guard learned
USER_KEY = "conveyor.dashboard.user"
TOKEN_KEY = "conveyor.dashboard.csrf"
FORM_KEY = "conveyor.dashboard.form"


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """How the guard lets requests in (`dashboard_app`'s access options, checked)."""

    basic: BasicAuth | None = None
    authorize: Authorize | None = None
    open_access: bool = False
    read_only: bool = False
    allowed_hosts: Sequence[str] | None = None  # Host header names accepted; None: any
    csrf_secret: bytes = dataclasses.field(default_factory=lambda: secrets.token_bytes(32))


def user_of(request: Request) -> User:
    user: User = request.scope[USER_KEY]
    return user


def csrf_token_of(request: Request) -> str:
    token: str = request.scope[TOKEN_KEY]
    return token


def form_of(request: Request) -> dict[str, list[str]]:
    """The POSTed form (application/x-www-form-urlencoded), as read by the guard."""
    form: dict[str, list[str]] = request.scope.get(FORM_KEY, {})
    return form


class Guard:
    """ASGI middleware doing the checks above, outside every route."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        session = request.cookies.get(SESSION_COOKIE, "")
        new_session = not _well_formed(session)
        if new_session:
            session = secrets.token_urlsafe(32)
        send = self._headers(scope, send, session if new_session else None)

        refusal = await self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        user: User = scope[USER_KEY]
        scope[TOKEN_KEY] = self._token(session, user)
        if request.method not in SAFE_METHODS:
            refusal = await self._check_post(request, user, scope[TOKEN_KEY])
            if refusal is not None:
                why = bytes(refusal.body).decode(errors="replace")
                what = f"{request.method} {_route_path(scope)} ({refusal.status_code}: {why})"
                audit.record(request, user, "refused", what, level=logging.WARNING)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, request: Request) -> Response | None:
        """Why the request is not let in; None (and the user in its scope) when it is."""
        access = self.access
        if access.allowed_hosts is not None and not _host_allowed(
            request.headers.get("host", ""), access.allowed_hosts
        ):
            return PlainTextResponse("this dashboard answers on its loopback address only", 400)
        user: User | None
        if access.authorize is not None:
            decision = await decide(access.authorize, request)
            if isinstance(decision, Response):
                return decision
            if decision is None:
                return PlainTextResponse("you may not see this dashboard", 403)
            user = decision
        elif access.basic is not None:
            user = access.basic.user(request.headers.get("authorization"))
            if user is None:
                return PlainTextResponse(
                    "this dashboard needs a user name and password", 401, BasicAuth.challenge()
                )
        elif access.open_access:
            user = User("anonymous", Role.OPERATOR)
        else:  # dashboard_app refuses to be built so; a guard built by hand stays shut
            return PlainTextResponse("this dashboard has no way to let anyone in", 403)
        if access.read_only and user.role is not Role.VIEWER:
            user = dataclasses.replace(user, role=Role.VIEWER)
        request.scope[USER_KEY] = user
        return None

    async def _check_post(self, request: Request, user: User, token: str) -> Response | None:
        if request.method != "POST":
            return PlainTextResponse("method not allowed", 405, {"Allow": "GET, HEAD, POST"})
        if not _same_origin(request):
            return PlainTextResponse("a request sent by another site is refused", 403)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return PlainTextResponse("send the form as application/x-www-form-urlencoded", 415)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return PlainTextResponse("the form is too large", 413)
        try:
            pairs = urllib.parse.parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            return PlainTextResponse("the form could not be read", 400)
        form: dict[str, list[str]] = {}
        for key, value in pairs:
            form.setdefault(key, []).append(value)
        given = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) or [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse(
                "the form's security token is missing or stale: reload the page and try again",
                403,
            )
        if not user.can_act:
            return PlainTextResponse(f"{user.name} may look but not act (read-only)", 403)
        request.scope[FORM_KEY] = form
        return None

    def _token(self, session: str, user: User) -> str:
        message = f"{session}\x00{user.name}".encode()
        return hmac.new(self.access.csrf_secret, message, hashlib.sha256).hexdigest()

    def _headers(self, scope: Scope, send: Send, new_session: str | None) -> Send:
        static = _route_path(scope).startswith("/static/")
        secure = scope.get("scheme") == "https"
        path = scope.get("root_path", "") or "/"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers["Cache-Control"] = "no-store"
                    headers.append("Vary", "HX-Request")
                if new_session is not None:
                    cookie = f"{SESSION_COOKIE}={new_session}; Path={path}; HttpOnly; SameSite=Lax"
                    headers.append("Set-Cookie", cookie + ("; Secure" if secure else ""))
            await send(message)

        return send_with_headers


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _well_formed(session: str) -> bool:
    return 30 <= len(session) <= 64 and all(c.isalnum() or c in "-_" for c in session)


def _same_origin(request: Request) -> bool:
    """Browsers say where a request comes from (Fetch Metadata); a proxy in front cannot
    blur it, as it can the Host header that an Origin would be compared with."""
    return request.headers.get("sec-fetch-site", "same-origin") != "cross-site"


def _host_allowed(host: str, allowed: Sequence[str]) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name in allowed


def loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
