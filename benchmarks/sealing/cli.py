"""`python -m benchmarks sealing`: enqueue and drain with no keys, signed, encrypted, both.

SQLite always; Redis when redis-server is on PATH, PostgreSQL when its server binaries are
installed (each a private server started for the run). `--quick` takes a few minutes on a
2-core machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.machine import machine
from benchmarks.postgres_bench.server import PostgresServer, private_postgres
from benchmarks.progress import Progress
from benchmarks.redis_bench.server import RedisServer, private_redis
from benchmarks.sealing.cell import VARIANTS, Result, Sizes, Variant, drain
from benchmarks.sealing.report import Run, render
from benchmarks.versus.cli import RESULTS, load_average, publish

QUICK = Sizes(n=5000)
QUICK_ROUNDS, ROUNDS = 3, 5
BACKENDS = ("sqlite", "redis", "postgres")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sealing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes")
    parser.add_argument("--n", type=int, help="jobs per cell (default 20000, quick 5000)")
    parser.add_argument("--rounds", type=int, help=f"default {ROUNDS}, quick {QUICK_ROUNDS}")
    parser.add_argument("--concurrency", type=int, help="worker concurrency (default 50)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,redis,postgres"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "sealing.md", help="where to write"
    )
    return parser.parse_args(argv)


@contextmanager
def servers(backends: list[str], folder: Path, skipped: list[str]) -> Iterator[Servers]:
    """The private servers the backends need, as far as this machine has them."""
    with ExitStack() as stack:
        found = Servers()
        if "redis" in backends:
            if shutil.which("redis-server") is None:
                skipped.append("Not run here: Redis (no redis-server on PATH).")
            else:
                found.redis = stack.enter_context(private_redis(folder))
        if "postgres" in backends:
            try:
                found.postgres = stack.enter_context(private_postgres())
            except RuntimeError as exc:
                skipped.append(f"Not run here: PostgreSQL ({exc}).")
        yield found


@dataclasses.dataclass
class Servers:
    redis: RedisServer | None = None
    postgres: PostgresServer | None = None

    def usable(self, backends: list[str]) -> list[str]:
        there = {"sqlite": True, "redis": self.redis is not None, "postgres": bool(self.postgres)}
        return [backend for backend in backends if there[backend]]

    def fresh_store(self, backend: str, folder: Path) -> str:
        """The URL of an empty store of `backend`."""
        if backend == "redis":
            assert self.redis is not None
            self.redis.flushall()
            return self.redis.url
        if backend == "postgres":
            assert self.postgres is not None
            self.postgres.reset("conveyor")
            return self.postgres.url
        return f"sqlite:///{folder / 'jobs.db'}"

    def versions(self) -> list[str]:
        found = []
        if self.redis is not None:
            found.append(f"redis-server {self.redis.version()}")
        if self.postgres is not None:
            found.append(f"PostgreSQL {self.postgres.version()}")
        return found


def run_cell(
    backend: str, variant: Variant, sizes: Sizes, found: Servers, progress: Progress
) -> Result:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-sealing-") as scratch:
        result = drain(found.fresh_store(backend, Path(scratch)), variant, sizes)
    n = sizes.n
    text = (
        f"enqueue {result.enqueue.seconds / n * 1e6:,.1f} µs/job, "
        f"drain {result.drain.seconds / n * 1e6:,.1f} µs/job"
    )
    if result.problem:
        text += f" PROBLEM {result.problem}"
    progress.say(f"  {backend} {variant}: {text} [{time.monotonic() - started:.1f} s]")
    return result


def main(argv: list[str]) -> None:
    args = parse(argv)
    overrides = {"n": args.n, "concurrency": args.concurrency}
    sizes = dataclasses.replace(
        QUICK if args.quick else Sizes(), **{k: v for k, v in overrides.items() if v is not None}
    )
    wanted = args.backends.split(",")
    unknown = set(wanted) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    progress = Progress()
    skipped: list[str] = []
    load_before, started = load_average(), time.monotonic()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-seal-")))
        found = stack.enter_context(servers(wanted, folder, skipped))
        backends = found.usable(wanted)
        results: dict[tuple[str, Variant], list[Result]] = {}
        for k in range(rounds):
            order = VARIANTS if k % 2 == 0 else VARIANTS[::-1]
            progress.say(f"round {k + 1}/{rounds}: {', '.join(order)}")
            for backend in backends:
                for variant in order:
                    results.setdefault((backend, variant), []).append(
                        run_cell(backend, variant, sizes, found, progress)
                    )
        server_versions = found.versions()
    progress.say(f"done in {time.monotonic() - started:.0f} s")
    run = Run(
        sizes=sizes,
        rounds=rounds,
        backends=backends,
        results=results,
        machine=machine(),
        load=(load_before, load_average()),
        servers=server_versions,
        skipped=skipped,
    )
    publish(render(run), args.output, progress)
