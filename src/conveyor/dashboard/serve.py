"""`conveyor dashboard`: the dashboard served on its own, with uvicorn.

Safe by default: it listens on 127.0.0.1 unless told otherwise. On a loopback address and
without credentials it lets in whoever reaches that address (only this machine) and answers
only requests naming a loopback host, so a web page cannot reach it through DNS rebinding.
On any other address it refuses to start without credentials.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Sequence

from conveyor.app import Conveyor
from conveyor.dashboard.access import Credentials
from conveyor.dashboard.app import dashboard_app
from conveyor.dashboard.guard import LOOPBACK_NAMES, loopback
from conveyor.errors import ConfigurationError

logger = logging.getLogger("conveyor.dashboard")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8181


def check_binding(host: str, credentials: Sequence[Credentials]) -> None:
    """Refuse, in one line, to serve an address others can reach without credentials."""
    if credentials or loopback(host):
        return
    raise ConfigurationError(
        f"refusing to serve the dashboard on {host} without credentials: anyone who reaches "
        "it could read job arguments and retry, cancel or delete jobs; give --auth "
        "USER:PASSWORD (or set CONVEYOR_DASHBOARD_AUTH), or serve on 127.0.0.1"
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket to serve on, bound now, so a taken port fails here in one line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot serve the dashboard on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(
    conveyor: Conveyor,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    credentials: Sequence[Credentials] = (),
    read_only: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard until cancelled (or SIGINT/SIGTERM); then close the store."""
    try:
        import uvicorn
    except ImportError:
        raise ConfigurationError(
            "conveyor dashboard needs uvicorn to serve: pip install 'conveyor[dashboard]'"
        ) from None
    check_binding(host, credentials)
    open_access = not credentials
    app = dashboard_app(
        conveyor,
        auth=list(credentials) or None,
        read_only=read_only,
        open_access=open_access,
        allowed_hosts=[*LOOPBACK_NAMES, host] if open_access else None,
    )
    sock = listening_socket(host, port)
    config = uvicorn.Config(
        app, log_level="warning", server_header=False, proxy_headers=False, lifespan="off"
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and on_ready is not None:
                on_ready(url_of(sock))

    try:
        await Server(config).serve(sockets=[sock])
    finally:
        sock.close()
        with contextlib.suppress(Exception):
            await conveyor.close()
