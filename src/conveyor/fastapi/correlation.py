"""The request's correlation id: read from X-Request-ID (or made), echoed, and set for jobs."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.correlation import reset_correlation_id, set_correlation_id

# visible ASCII only: the id ends up in log lines and response headers
ACCEPTED_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


class CorrelationMiddleware:
    """Pure ASGI middleware: `api.add_middleware(CorrelationMiddleware)`.

    Takes the request's id from `header` (a new one when absent or malformed), makes it
    the correlation id while the request is handled, so jobs enqueued then carry it to
    `ctx.correlation_id` and the worker's log lines, and echoes it in the response.
    """

    def __init__(self, app: ASGIApp, header: str = "X-Request-ID") -> None:
        self.app = app
        self.header = header
        self._header_key = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        correlation_id = self._incoming(scope) or uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[self.header] = correlation_id
            await send(message)

        token = set_correlation_id(correlation_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_correlation_id(token)

    def _incoming(self, scope: Scope) -> str | None:
        for key, value in scope["headers"]:
            if key == self._header_key:
                text = value.decode("latin-1").strip()
                return text if ACCEPTED_ID.match(text) else None
        return None
