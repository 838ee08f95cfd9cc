"""A private redis-server for one run, and what it did: commands and CPU between two snapshots."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from benchmarks.versus.costs import Snapshot

# the harness's own calls, left out of what a system is charged for
OVERHEAD = frozenset({"info", "flushall", "ping", "config|resetstat"})


class RedisServer:
    """redis-server on a free port, persistence off, its files in `folder`; with `cluster`,
    a node of a cluster yet to be formed (its nodes.conf in `folder` too)."""

    def __init__(self, folder: Path, *, cluster: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no redis-server on PATH: install Redis to run this benchmark")
        self.port = free_port()
        self.bus_port = free_port()  # a cluster node's port for the other nodes
        self.log = folder / "redis.log"
        argv = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(folder), "--logfile", str(self.log),
        ]  # fmt: skip
        if cluster:
            argv += ["--cluster-enabled", "yes", "--cluster-port", str(self.bus_port)]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)
        self._wait_until_up()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_until_up(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: {self.tail()}")
            try:
                if self.client.ping():
                    return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def version(self) -> str:
        return str(self.client.info("server")["redis_version"])

    def flushall(self) -> None:
        self.client.flushall()

    def reset(self, system: str) -> None:
        """Empty state for the next cell (every system starts from nothing on Redis)."""
        self.flushall()

    def installed(self, system: str) -> None:
        """Nothing to keep: no system installs anything into Redis ahead of its jobs."""

    def settle(self) -> None:
        """Nothing to wait for: INFO counts every command as it runs."""

    def snapshot(self) -> Snapshot:
        stats = self.client.info("commandstats")
        cpu = self.client.info("cpu")
        calls = {
            name: int(value["calls"])
            for key, value in stats.items()
            if (name := key.removeprefix("cmdstat_")) not in OVERHEAD
        }
        return Snapshot(calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]))

    def tail(self, lines: int = 10) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no log)"

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def private_redis(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    try:
        yield server
    finally:
        server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
