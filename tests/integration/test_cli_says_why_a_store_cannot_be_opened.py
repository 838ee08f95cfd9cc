"""A store URL that cannot work gets one line saying why, fast, with no traceback.

The real `conveyor` command runs in a process of its own, so what it prints is all a user
sees: the warnings of libraries it uses included.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator

import psycopg
import pytest
import redis

from live_services import POSTGRES_URL, REDIS_URL, missing


def conveyor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def assert_one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed and printed nothing but one line on stderr; that line."""
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def redis_server() -> tuple[str, int]:
    """The test Redis's host and port; fails (CI) or skips when it is down."""
    try:
        with redis.Redis.from_url(REDIS_URL) as client:
            client.ping()
    except redis.exceptions.ConnectionError as exc:
        missing("Redis", exc)
    parsed = urllib.parse.urlsplit(REDIS_URL)
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


@pytest.fixture
def postgres_server() -> tuple[str, int, str]:
    """The test PostgreSQL's host, port and database; fails (CI) or skips when it is down."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        missing("PostgreSQL", exc)
    parsed = urllib.parse.urlsplit(POSTGRES_URL)
    return parsed.hostname or "127.0.0.1", parsed.port or 5432, parsed.path.lstrip("/")


@pytest.fixture
def not_redis() -> Iterator[int]:
    """A port where a server answers every request as a web server would."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                peer, _ = listener.accept()
            except TimeoutError:
                continue
            with peer:
                peer.recv(1024)
                peer.sendall(b"<html>not here</html>\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_redis_database_out_of_range_is_named(redis_server: tuple[str, int]) -> None:
    host, port = redis_server

    line = assert_one_line(conveyor("jobs", "list", "--url", f"redis://{host}:{port}/99"))

    assert f"Redis at redis://{host}:{port}/99 refused the connection" in line
    assert "DB index is out of range" in line
    assert "databases 0 to 15" in line


def test_a_redis_url_whose_database_is_not_a_number_is_refused() -> None:
    line = assert_one_line(conveyor("jobs", "list", "--url", "redis://127.0.0.1:6379/abc"))

    assert "bad Redis URL 'redis://127.0.0.1:6379/abc'" in line
    assert "the database after the port must be a number" in line
    assert "got 'abc'" in line


def test_a_redis_url_at_a_server_that_is_not_redis_says_so(not_redis: int) -> None:
    line = assert_one_line(conveyor("stats", "--url", f"redis://127.0.0.1:{not_redis}/0"))

    assert f"what answers at redis://127.0.0.1:{not_redis}/0 does not speak Redis" in line
    assert "Protocol error" in line
    assert "check the host and port" in line


def test_a_redis_url_at_postgresqls_port_says_to_check_the_port(
    postgres_server: tuple[str, int, str],
) -> None:
    host, port, _ = postgres_server

    line = assert_one_line(conveyor("jobs", "list", "--url", f"redis://{host}:{port}/0"))

    assert f"cannot reach Redis at redis://{host}:{port}/0" in line
    assert "is it Redis that listens on that port?" in line


def test_a_closed_postgresql_port_fails_at_once_and_says_so_once() -> None:
    port = closed_port()
    started = time.monotonic()

    done = conveyor("jobs", "list", "--url", f"postgresql://postgres@127.0.0.1:{port}/test")

    took = time.monotonic() - started
    line = assert_one_line(done)  # no warning of the pool's, once per retry
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/test: Connection refused" in line
    assert took < 4.0, f"took {took:.1f} s: it waited for the connect timeout (5 s)"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        pytest.param({"user": "nouser"}, 'role "nouser" does not exist', id="role"),
        pytest.param({"path": "/no_such_db"}, 'database "no_such_db" does not exist', id="db"),
    ],
)
def test_a_server_that_refuses_the_connection_is_quoted(
    postgres_server: tuple[str, int, str], change: dict[str, str], said: str
) -> None:
    host, port, database = postgres_server
    user = change.get("user", "postgres")
    path = change.get("path", f"/{database}")
    started = time.monotonic()

    done = conveyor("stats", "--url", f"postgresql://{user}@{host}:{port}{path}")

    line = assert_one_line(done)
    assert f"PostgreSQL at {host}:{port}{path} refused the connection: {said}" in line
    assert "cannot reach" not in line, "the server was reached"
    assert time.monotonic() - started < 4.0


def test_an_sslmode_the_server_cannot_meet_is_reported_as_the_server_put_it(
    postgres_server: tuple[str, int, str],
) -> None:
    host, port, database = postgres_server
    with psycopg.connect(POSTGRES_URL) as conn:
        row = conn.execute("SHOW ssl").fetchone()
    if row is not None and row[0] == "on":
        pytest.skip("this server speaks SSL: sslmode=require succeeds")
    url = f"postgresql://postgres@{host}:{port}/{database}?sslmode=require"

    line = assert_one_line(conveyor("jobs", "list", "--url", url))

    assert "server does not support SSL, but SSL was required" in line
    assert "cannot reach" not in line


@pytest.mark.parametrize(
    ("query", "said"),
    [
        pytest.param("sslmode=sometimes", 'invalid sslmode value: "sometimes"', id="sslmode"),
        pytest.param("colour=blue", 'invalid URI query parameter: "colour"', id="unknown-option"),
    ],
)
def test_a_libpq_option_that_cannot_be_is_a_bad_url(
    postgres_server: tuple[str, int, str], query: str, said: str
) -> None:
    host, port, database = postgres_server
    url = f"postgresql://postgres:pw@{host}:{port}/{database}?{query}"

    line = assert_one_line(conveyor("jobs", "list", "--url", url))

    assert "bad PostgreSQL URL" in line
    assert said in line
    assert ":pw@" not in line, "the password is never shown"
