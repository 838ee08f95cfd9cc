"""`python -m benchmarks.versus.profile [redis|postgres]`: where a conveyor worker's time goes.

Queues N no-op jobs on a private server (Redis, or a PostgreSQL cluster made for the run, as
the benchmark's are), starts one worker process as the benchmark does, and samples it with
py-spy (`pip install py-spy`) from its first instruction until every job has run. Prints the
functions that hold the most samples: by own time, then including callees. Sampling does not
slow the worker down much, so the rate printed stays meaningful.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.versus.outcome import prepare
from benchmarks.versus.workloads import Server, Sizes

if TYPE_CHECKING:
    from benchmarks.postgres_bench.server import PostgresServer

# whose functions the inclusive table lists, by server
LIBRARIES = {"redis": ("conveyor", "redis"), "postgres": ("conveyor", "psycopg", "psycopg_pool")}


@contextmanager
def _redis(folder: Path) -> Iterator[Server]:
    from benchmarks.redis_bench.server import private_redis

    with private_redis(folder) as server:
        yield server


@contextmanager
def _postgres(folder: Path) -> Iterator[Server]:
    from benchmarks.postgres_bench.server import private_postgres

    with private_postgres() as server:
        yield server


SERVERS: dict[str, Callable[[Path], AbstractContextManager[Server]]] = {
    "redis": _redis,
    "postgres": _postgres,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.versus.profile")
    parser.add_argument("server", nargs="?", choices=sorted(SERVERS), default="redis")
    parser.add_argument("--n", type=int, default=20000, help="jobs to drain")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    return parser.parse_args(argv)


def frames(stack: str) -> list[str]:
    """`a (file.py:12);b (other.py:3)` -> ['a (file.py)', 'b (other.py)'], outermost first."""
    return [part.rsplit(":", 1)[0] + ")" if ":" in part else part for part in stack.split(";")]


def tables(collapsed: Path, top: int, libraries: tuple[str, ...]) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples, calls = int(count), frames(stack)
        total += samples
        own[calls[-1]] += samples
        for name in set(calls):
            if any(f"({package}/" in name for package in libraries):
                inclusive[name] += samples
    out = [f"{total} samples"]
    for title, counter in (
        ("own time", own),
        (f"including callees ({', '.join(libraries)})", inclusive),
    ):
        out += ["", f"### top {top} by {title}", ""]
        out += [f"{100 * k / max(total, 1):5.1f} %  {name}" for name, k in counter.most_common(top)]
    return "\n".join(out)


def _postgres_server(server: Server) -> PostgresServer | None:
    from benchmarks.postgres_bench.server import PostgresServer

    return server if isinstance(server, PostgresServer) else None


def server_side(server: Server, seconds: float) -> str:
    """What the server spent, where it can say: PostgreSQL's statements by execution time."""
    postgres = _postgres_server(server)
    if postgres is None:
        return ""
    lines = postgres.statement_times()
    head = f"\n### the server's statements by execution time (drain took {seconds:.2f} s)\n"
    return head + "\n".join(lines or ["pg_stat_statements is not installed"])


def main(argv: list[str]) -> None:
    args = parse(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    sizes = Sizes(drain=args.n, concurrency=args.concurrency)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        folder = Path(scratch)
        with SERVERS[args.server](folder) as server:
            system, outcome = prepare("conveyor", server, folder, sizes, print)
            if system is None:
                raise SystemExit(f"conveyor cannot run: {outcome.error}")
            server.reset("conveyor")
            system.call("prefill", "--n", str(args.n), timeout=600)
            if (postgres := _postgres_server(server)) is not None:
                postgres.forget_statements()  # the drain's statements only
            log = system.completion_log()
            worker = system.start_worker(log, sizes)
            out = folder / "collapsed.txt"
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(worker.proc.pid), "--rate", str(args.rate),
                 "--format", "raw", "--output", str(out), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            seen = log.wait_for(args.n, time.monotonic() + 300, worker.alive, poll=0.005)
            seconds = time.monotonic() - worker.started
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=60)
            worker.stop()
            print(
                f"conveyor drain on {args.server} under py-spy: {seen:,}/{args.n:,} jobs in "
                f"{seconds:.2f} s from worker start ({seen / seconds:,.0f} jobs/s), "
                f"concurrency {args.concurrency}"
            )
            libraries = LIBRARIES[args.server]
            print(tables(out, args.top, libraries) if out.exists() else "py-spy wrote no profile")
            print(server_side(server, seconds))


if __name__ == "__main__":
    main(sys.argv[1:])
