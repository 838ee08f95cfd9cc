"""A private PostgreSQL cluster for one run: initdb into a temporary folder, pg_ctl on a free port.

The same approach as the tests' private cluster (tests/live_services.py), with the benchmark's
settings: durable commits (fsync and synchronous_commit on, the defaults, said explicitly) and
pg_stat_statements preloaded when it is installed. initdb refuses to run as root, so as root
the cluster belongs to the `postgres` OS user, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "max_connections": "200",
    "listen_addresses": "127.0.0.1",
}
STATEMENTS = {  # added when pg_stat_statements is installed
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",  # what clients send, not what functions run inside
    "pg_stat_statements.track_utility": "on",  # BEGIN, COMMIT, LISTEN count too
    "pg_stat_statements.max": "10000",
}


class Cluster:
    """initdb'd on construction; `start`, then `close` stops it and deletes its files."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
        initdb = found[0] if found else shutil.which("initdb")
        if initdb is None:
            raise RuntimeError("no initdb found: install the PostgreSQL server to run this")
        self.bindir = Path(initdb).parent
        self.prefix: list[str] = []
        self.directory = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no postgres user") from None
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = _free_port()
        self.running = False
        self.has_statements = self._library("pg_stat_statements")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    @property
    def settings(self) -> dict[str, str]:
        return {**SETTINGS, **(STATEMENTS if self.has_statements else {})}

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        options += f" -p {self.port} -k {self.directory}"
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        self.running = True

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no log)"

    def close(self) -> None:
        try:
            if self.running:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
                self.running = False
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _library(self, name: str) -> bool:
        done = subprocess.run(
            [str(self.bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True
        )
        folder = Path(done.stdout.strip()) if done.returncode == 0 else self.bindir.parent / "lib"
        return (folder / f"{name}.so").exists()

    def _run(self, program: str, *args: str) -> None:
        argv = [*self.prefix, str(self.bindir / program), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr or done.stdout}\n{self.tail()}"
            )


def _version(path: str) -> tuple[int, ...]:
    """(15,) for .../postgresql/15/bin/initdb: sorts versions as numbers, not text."""
    name = Path(path).parents[1].name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
