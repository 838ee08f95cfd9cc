"""A fleet for the browser tests: `conveyor dashboard` and `conveyor worker` processes on one
store, an app module they share, and headless Chromium driven by Playwright.

Chromium is Debian's (`apt-get install chromium`): Playwright cannot download a browser
here. Without it, or without Playwright, the tests skip locally and fail in CI.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

from conveyor import Conveyor
from live_services import missing
from waiting import wait_until

CHROMIUM = os.environ.get("CONVEYOR_TEST_CHROMIUM", "/usr/bin/chromium")
OPERATOR = ("ops", "s3cret-for-ops")
VIEWER = ("eve", "only:looking")
HEARTBEAT = 0.5  # a worker's entry expires 3 heartbeats after its last

APP = '''\
"""The app of the browser tests: a task that fails until its fix is in, a long one, a
quick one on a queue of its own, and a schedule."""

import asyncio
import pathlib

from conveyor import Context, Conveyor

app = Conveyor()  # $CONVEYOR_URL
FIXED = pathlib.Path(__file__).with_name("fixed")


@app.task(name="mail.send", queue="mail", retries=0)
async def send(n: int) -> int:
    if not FIXED.exists():
        raise ConnectionError(f"smtp.example.com refused message {n}")
    return n


@app.task(name="reports.linger", queue="reports", retries=0)
async def linger(seconds: float, ctx: Context = Context.INJECTED) -> None:
    await ctx.progress(0.25, "rendering")
    await asyncio.sleep(seconds)


@app.task(name="lane.quick", queue="lane")
async def quick(n: int) -> int:
    return n


@app.cron("*/10 * * * *", name="tidy-up")
async def tidy() -> None:
    return None
'''


def playwright_or_skip() -> Any:
    """The async Playwright API, or a skip (a failure in CI) saying what is missing."""
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        missing("Playwright", exc, problem="is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        missing("Chromium", CHROMIUM, problem="is not installed (apt-get install chromium)")
    return async_playwright


class Fleet:
    """The processes of one test, and the app module to enqueue with."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.url = url
        self.module_name = f"browserapp_{uuid.uuid4().hex[:10]}"
        (folder / f"{self.module_name}.py").write_text(APP)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.dashboard = ""
        self.module: ModuleType | None = None

    @property
    def app(self) -> Conveyor:
        if self.module is None:
            sys.path.insert(0, str(self.folder))
            try:
                self.module = importlib.import_module(self.module_name)
            finally:
                sys.path.remove(str(self.folder))
        app: Conveyor = self.module.app
        app.url = self.url
        return app

    def fix(self) -> None:
        """From now on, mail.send succeeds."""
        (self.folder / "fixed").touch()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_DASHBOARD_AUTH"}
        return {**env, "CONVEYOR_URL": self.url, "PYTHONPATH": str(self.folder)}

    def start(self, role: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{role}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "conveyor", *argv], cwd=self.folder, env=self.env(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes[role] = process
        return process

    def start_worker(self, name: str, *queues: str) -> subprocess.Popen[bytes]:
        argv = ["worker", f"{self.module_name}:app", "--heartbeat", str(HEARTBEAT)]
        if queues:
            argv += ["--queues", ",".join(queues)]
        return self.start(name, *argv)

    async def start_dashboard(self) -> str:
        self.start(
            "dashboard", "dashboard", "--app", f"{self.module_name}:app", "--port", "0",
            "--auth", ":".join(OPERATOR), "--viewer", ":".join(VIEWER),
        )  # fmt: skip
        log = self.folder / "dashboard.log"
        found: list[str] = []

        def serving() -> bool:
            hit = re.search(r"conveyor dashboard on (http://\S+/)", log.read_text())
            if hit:
                found.append(hit[1])
            return bool(hit) or self.processes["dashboard"].poll() is not None

        await wait_until(serving, 30.0, "the dashboard to serve", self.fail)
        if not found:
            self.fail("the dashboard stopped")
        self.dashboard = found[0]
        return self.dashboard

    def fail(self, message: str) -> None:
        logs = "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.folder.glob("*.log")
        )
        raise AssertionError(f"{message}\n{logs}")

    async def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.module is not None:
            await self.module.app.close()
            sys.modules.pop(self.module_name, None)


@contextlib.asynccontextmanager
async def fleet(folder: Path, url: str) -> AsyncIterator[Fleet]:
    running = Fleet(folder, url)
    try:
        yield running
    finally:
        await running.close()
