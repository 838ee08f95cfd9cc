"""Helpers of the FastAPI tests: clients over ASGI and over real HTTP, and an SSE reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import Message

from conveyor import Conveyor, JobState, Worker
from conveyor.backends.base import JobFilter
from conveyor.job import JobRecord

LIMIT = 10.0  # seconds before a helper gives up and fails the test


def fast_worker(app: Conveyor, concurrency: int = 4) -> Worker:
    """A worker whose leases, heartbeats and polls are short enough for tests."""
    return Worker(
        app, concurrency=concurrency, lease=2.0, heartbeat=0.1, grace=1.0, sweep_interval=0.2
    )


@contextlib.asynccontextmanager
async def running_worker(app: Conveyor) -> AsyncIterator[Worker]:
    """A real worker in this event loop for the duration of the block."""
    worker = fast_worker(app)
    running = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await running


@contextlib.asynccontextmanager
async def asgi_client(
    api: FastAPI, raise_app_exceptions: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan, and a client that calls it in this process (no sockets).

    With `raise_app_exceptions`, an exception the app did not handle reaches the caller
    (as it would reach the server's log) instead of becoming a 500 response."""
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=raise_app_exceptions)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def served(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a real uvicorn server in this event loop, and a client talking HTTP.

    Unlike the ASGI transport, which hands back a response once the app has finished with
    it, a real server lets the client see each byte as it is sent: streams and ordering.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await until(lambda: server.started or serving.done(), "the server to start")
        assert not serving.done(), "the server stopped while starting"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        async with asyncio.timeout(LIMIT):
            await serving
        listener.close()


async def call_asgi(
    api: FastAPI, method: str, path: str, on_response_start: Callable[[], Awaitable[None]]
) -> list[Message]:
    """Call the app as a server would, running `on_response_start` when the response
    starts: the moment its first byte would leave for the client."""
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if request_sent:
            await asyncio.Event().wait()  # the client stays connected
        request_sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            await on_response_start()
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api")],
        "client": ("127.0.0.1", 50000),
        "server": ("api", 80),
    }
    await api(scope, receive, send)
    return sent


async def stored_jobs(app: Conveyor) -> list[JobRecord]:
    return await (await app.connected()).list_jobs(JobFilter(limit=1000))


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.01)


async def wait_for_state(app: Conveyor, job_id: str, state: JobState) -> JobRecord:
    deadline = time.monotonic() + LIMIT
    while True:
        record = await (await app.connected()).get(job_id)
        if record is not None and record.state is state:
            return record
        current = None if record is None else record.state
        assert time.monotonic() < deadline, f"job {job_id} still {current}, never {state}"
        await asyncio.sleep(0.01)


async def read_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of a text/event-stream response, each as {field: value}, `data` parsed as
    JSON. Comment lines (keep-alives) are skipped."""
    fields: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields[name] = json.loads(value) if name == "data" else value
    if fields:
        yield fields


TESTS_DIR = Path(__file__).resolve().parents[1]  # holds the `fastapi_integration` package


@contextlib.asynccontextmanager
async def api_process(
    app_path: str, env: dict[str, str], output: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, httpx.AsyncClient]]:
    """`uvicorn APP` in a child process, and a client once it answers. Killed at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with output.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", app_path, "--port", str(port),
            cwd=TESTS_DIR, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, f"uvicorn exited: {_text(output)}"
                assert time.monotonic() < deadline, f"uvicorn never answered: {_text(output)}"
                with contextlib.suppress(httpx.TransportError):
                    await client.get("/openapi.json")
                    break
                await asyncio.sleep(0.1)
            yield process, client
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _text(output: Path) -> str:
    return output.read_text(errors="replace")
