"""The real services that backend tests talk to, and what to do when one is missing.

Locally a missing service skips its tests; in CI (CI=true) it fails them, because a
skipped backend test is not a passing one.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_URL = os.environ.get("CONVEYOR_TEST_REDIS", "redis://127.0.0.1:6379/9")
POSTGRES_URL = os.environ.get("CONVEYOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def missing(service: str, why: object, problem: str = "is not reachable") -> NoReturn:
    message = f"{service} {problem} ({why}); start it, or run without CI=true to skip"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def fresh_redis() -> str:
    """A store of its own in the test Redis database: a key prefix nobody used, whose keys
    are deleted when the test run ends. Concurrent test runs on one server never meet.
    Fails (CI) or skips when Redis is down."""
    prefix = f"test-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with redis.Redis.from_url(REDIS_URL) as client:
            client.ping()
    except redis.exceptions.ConnectionError as exc:
        missing("Redis", exc)
    if not _redis_prefixes:
        atexit.register(_delete_redis_prefixes)
    _redis_prefixes.append(prefix)
    return f"{REDIS_URL}?prefix={prefix}"


_redis_prefixes: list[str] = []


def _delete_redis_prefixes() -> None:
    with (
        contextlib.suppress(redis.exceptions.RedisError),
        redis.Redis.from_url(REDIS_URL) as client,
    ):
        for prefix in _redis_prefixes:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 1000):
                client.unlink(*keys[start : start + 1000])


@contextlib.contextmanager
def fresh_postgres(pool_size: int = 4) -> Iterator[str]:
    """A URL naming a new, empty schema of the test database, dropped afterwards.

    A schema per test is much cheaper than a database per test, and tests running at the
    same time (or other people's) never see each other's jobs. Fails (CI) or skips when
    PostgreSQL is down.
    """
    schema = f"conveyor_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    except psycopg.OperationalError as exc:
        missing("PostgreSQL", exc)
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}schema={schema}&pool_size={pool_size}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(b"SET lock_timeout = '30s'")
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


class RedisServer:
    """A private `redis-server` for one test: a free port, its own directory, AOF on.

    `kill` is SIGKILL; `start` again reuses the port and the directory, so the server
    reloads its append-only file, as after a crash. `fsync` is the `appendfsync` policy:
    "always" puts every write on disk before its reply; "everysec" may lose the last
    second or two of acknowledged writes when a crash meets a slow disk.
    """

    def __init__(self, directory: Path, *, fsync: str = "everysec", cluster: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server", "not on PATH", problem="is not installed")
        self.binary = binary
        self.directory = directory
        self.fsync = fsync
        self.cluster = cluster
        self.port = _free_port()
        self.bus_port = _free_port()  # a cluster node's own port for the other nodes
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def client(self) -> redis.Redis:
        """A synchronous client that gives up at once instead of retrying."""
        no_retries = Retry(NoBackoff(), 0)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, retry=no_retries)

    def start(self, timeout: float = 15.0) -> None:
        """Start the server (reloading its AOF, if any) and wait until it answers PING."""
        assert self.process is None or self.process.poll() is not None, "already running"
        argv = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
            str(self.directory), "--appendonly", "yes", "--appendfsync", self.fsync,
            "--save", "", "--logfile", str(self.log),
        ]  # fmt: skip
        if self.cluster:  # nodes.conf, in the directory, lets a restarted node rejoin
            argv += [
                "--cluster-enabled", "yes", "--cluster-port", str(self.bus_port),
                "--cluster-node-timeout", "2000",
            ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self.starts += 1
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited at start:\n{self.tail()}")
                try:
                    if client.ping():  # a server still loading its AOF answers LOADING
                        return
                except redis.exceptions.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer in {timeout:g} s")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server and wait until it is gone."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no log)"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


class RedisClusterServers:
    """A private Redis Cluster on loopback: `masters` RedisServers in cluster mode (AOF on,
    no replicas), the hash slots shared evenly between them. A node killed and started
    again rejoins from its nodes.conf and reloads its AOF, and the cluster is whole again.
    """

    def __init__(self, directory: Path, *, masters: int = 3, fsync: str = "everysec") -> None:
        self.nodes = [
            RedisServer(directory / f"node{i}", fsync=fsync, cluster=True) for i in range(masters)
        ]

    @property
    def url(self) -> str:
        """The URL of one node, as a user would give it."""
        return self.nodes[0].url

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start()
        step = 16384 // len(self.nodes)
        for i, node in enumerate(self.nodes):
            last = 16383 if i == len(self.nodes) - 1 else (i + 1) * step - 1
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * step, last)
                for other in self.nodes:
                    client.execute_command(
                        "CLUSTER", "MEET", "127.0.0.1", other.port, other.bus_port
                    )
        self.wait_until_whole(timeout)

    def wait_until_whole(self, timeout: float = 30.0) -> None:
        """Wait until every node answers that the cluster is ok and knows every other."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._whole(node) for node in self.nodes):
                    return
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                tails = "\n".join(node.tail(5) for node in self.nodes)
                raise RuntimeError(f"the Redis Cluster was not whole in {timeout:g} s:\n{tails}")
            time.sleep(0.05)

    def _whole(self, node: RedisServer) -> bool:
        with node.client() as client:
            info = client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            return "cluster_state:ok" in text and f"cluster_known_nodes:{len(self.nodes)}" in text

    def node_of(self, key: str) -> RedisServer:
        """The master that holds `key`'s slot."""
        with self.nodes[0].client() as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
        step = 16384 // len(self.nodes)
        return self.nodes[min(slot // step, len(self.nodes) - 1)]

    def close(self) -> None:
        for node in self.nodes:
            node.close()


_shared_cluster: list[RedisClusterServers] = []


def shared_redis_cluster() -> RedisClusterServers:
    """A Redis Cluster of 3 masters that the test run starts on first use and kills at its
    end; tests keep apart by prefix."""
    if not _shared_cluster:
        directory = Path(tempfile.mkdtemp(prefix="conveyor-redis-cluster-"))
        cluster = RedisClusterServers(directory)
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        atexit.register(cluster.close)
        cluster.start()
        _shared_cluster.append(cluster)
    return _shared_cluster[0]


def fresh_redis_cluster() -> str:
    """A store of its own (a new prefix, so a slot of its own) on the shared cluster."""
    return f"{shared_redis_cluster().url}?prefix=test-{os.getpid()}-{secrets.token_hex(4)}"


class PostgresServer:
    """A private PostgreSQL cluster for one test: its own data directory, a free port, fsync on.

    Tests that stop PostgreSQL use one, never the shared server. `stop("immediate")` is a
    crash: no checkpoint, so `start` replays the write-ahead log. The binaries are found by
    glob (any installed version, newest first) or on PATH. initdb refuses to run as root, so
    as root the cluster belongs to the `postgres` OS user and lives in a directory it owns
    (a pytest tmp_path is not readable by that user).
    """

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
        initdb = found[0] if found else shutil.which("initdb")
        if initdb is None:
            missing("PostgreSQL server binaries", "no initdb found")
        self.bindir = Path(initdb).parent
        self.prefix: list[str] = []
        self.directory = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                missing("PostgreSQL server", "running as root and there is no postgres user")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = _free_port()
        self.running = False
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server (after a crash: recover it) and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=on -c synchronous_commit=on -c max_connections=80"
        )
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: "immediate" (a crash), "fast" or "smart"."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no log)"

    def close(self) -> None:
        try:
            if self.running:
                self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        argv = [*self.prefix, str(self.bindir / program), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr or done.stdout}\n{self.tail()}"
            )


def _version(path: str) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin/initdb: sorts versions as numbers, not text."""
    name = Path(path).parents[1].name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
