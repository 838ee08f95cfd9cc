"""Who may see the dashboard, and who may act on it.

A request gets in as a `User`, whose `Role` says whether it may act (retry, cancel, delete,
pause, run a schedule) or only look. Who it is comes from one of:

- `authorize`, the host app's own check: a callable given the request (its cookies, the
  session and user the host's middleware put in its scope) that returns the `User`, or None
  to refuse (403), or a response to send instead (a redirect to the host's login page);
- `auth`, HTTP Basic credentials, each with its role, compared in constant time;
- neither, only when opened explicitly (`open_access=True`: the CLI does so on a loopback
  address), and everyone is an operator.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import hmac
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeAlias

from starlette.requests import Request
from starlette.responses import Response

from conveyor.errors import ConfigurationError

REALM = "conveyor dashboard"


class Role(enum.StrEnum):
    OPERATOR = "operator"  # looks and acts
    VIEWER = "viewer"  # looks only


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """Who is looking: a name for the audit log, and a role."""

    name: str
    role: Role = Role.OPERATOR

    @property
    def can_act(self) -> bool:
        return self.role is Role.OPERATOR


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """HTTP Basic credentials of one user, and the role they give."""

    user: str
    password: str = dataclasses.field(repr=False)
    role: Role = Role.OPERATOR

    @classmethod
    def parse(cls, text: str, role: Role = Role.OPERATOR) -> Credentials:
        """`USER:PASSWORD` (the password may hold colons)."""
        user, colon, password = text.partition(":")
        if not colon or not user or not password:
            raise ConfigurationError(
                "dashboard credentials are USER:PASSWORD, both non-empty (such as admin:s3cret)"
            )
        return cls(user, password, role)


Decision: TypeAlias = "User | Response | None"
Authorize: TypeAlias = Callable[[Request], "Decision | Awaitable[Decision]"]


async def decide(authorize: Authorize, request: Request) -> Decision:
    decision = authorize(request)
    if inspect.isawaitable(decision):
        decision = await decision
    if decision is not None and not isinstance(decision, User | Response):
        raise TypeError(
            f"the dashboard's authorize callable must return a conveyor.dashboard.User, None "
            f"or a response, got {decision!r}"
        )
    return decision


class BasicAuth:
    """Checks an `Authorization: Basic` header against every known user in constant time:
    each comparison is of SHA-256 digests, and all are made whatever matches."""

    def __init__(self, credentials: Iterable[Credentials]) -> None:
        self._known = [
            (_digest(c.user), _digest(c.password), User(c.user, c.role)) for c in credentials
        ]
        if not self._known:
            raise ConfigurationError("give at least one USER:PASSWORD to check")

    def user(self, header: str | None) -> User | None:
        given = _basic(header)
        if given is None:
            return None
        name, password = _digest(given[0]), _digest(given[1])
        found: User | None = None
        for known_name, known_password, user in self._known:
            same_name = hmac.compare_digest(name, known_name)
            same_password = hmac.compare_digest(password, known_password)
            if same_name & same_password:
                found = user
        return found

    @staticmethod
    def challenge() -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _basic(header: str | None) -> tuple[str, str] | None:
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, colon, password = text.partition(":")
    return (user, password) if colon else None


def credentials_of(
    auth: str | Credentials | Iterable[Credentials | str] | None,
) -> list[Credentials]:
    """`auth=` as a list: "USER:PASSWORD", a `Credentials`, or several of them."""
    if auth is None:
        return []
    if isinstance(auth, str | Credentials):
        auth = [auth]
    found = [Credentials.parse(item) if isinstance(item, str) else item for item in auth]
    for item in found:
        if not isinstance(item, Credentials):
            raise ConfigurationError(
                f"auth= takes 'USER:PASSWORD' or conveyor.dashboard.Credentials, got {item!r}"
            )
    return found
