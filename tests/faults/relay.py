"""A TCP relay in front of a server, whose connections a test can cut and restore.

A worker given the relay's address instead of the server's reaches the same store, but
`cut()` resets every connection through the relay and every new one while the cut lasts
(the peer sees its connection reset, as when a firewall rejects it), and `restore()` lets
connections through again. `stall()` is the silent kind of cut: every connection through the
relay, and every new one, stays open but carries nothing, for good; only connections made
after `restore()` reach the server. `deafen()` carries what clients send but drops what the
server answers, until `restore()`: a client's writes land while it hears nothing. Other
clients, connected straight to the server, are untouched.
The relay runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse


class Relay:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.accepted = 0  # connections let through, over the relay's life
        self.reset = 0  # connections reset by a cut
        self._open = True
        self._stalled = False
        self._deaf = False
        self._silent: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def listen_port(self) -> int:
        assert self._server is not None, "start the relay first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, path: str = "/0") -> str:
        return f"redis://127.0.0.1:{self.listen_port}{path}"

    def route(self, url: str) -> str:
        """The store `url` names, reached through the relay (its user, path and query kept)."""
        parts = urllib.parse.urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        return parts._replace(netloc=f"{user}127.0.0.1:{self.listen_port}").geturl()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    def cut(self) -> None:
        """Reset every connection through the relay; reset new ones until `restore`."""
        self._open = False
        for client, upstream in list(self._pairs):
            client.transport.abort()
            upstream.transport.abort()
            self.reset += 1
        self._pairs.clear()

    def stall(self) -> None:
        """Carry nothing more on the relay's connections, without closing them."""
        self._stalled = True
        self._silent |= self._pairs
        self._pairs.clear()

    def deafen(self) -> None:
        """Drop the server's replies on every connection, carrying requests as before."""
        self._deaf = True

    def restore(self) -> None:
        self._open = True
        self._stalled = False
        self._deaf = False

    async def close(self) -> None:
        self.cut()
        for client, upstream in self._silent:
            client.transport.abort()
            upstream.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stalled:  # accepted, and then never answered
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass
            return
        if not self._open:
            writer.transport.abort()
            self.reset += 1
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        pair = (writer, up_writer)
        self._pairs.add(pair)
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, pair)),
            asyncio.create_task(self._pipe(up_reader, writer, pair)),
        ]
        for pipe in pipes:
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if pair in self._silent:
                    continue  # a stalled connection swallows what it is given
                if self._deaf and sink is pair[0]:
                    continue  # a reply to the client, lost
                sink.write(data)
                await sink.drain()
        # one side ended: end the other too, so neither peer waits on a half-open link
        if pair in self._pairs:
            self._pairs.discard(pair)
            for end in pair:
                end.transport.abort()
