"""The commands every peer script answers, written once; it runs inside the peer's virtualenv.

Only the standard library and the benchmark's stdlib-only modules are imported here, so the
same code drives arq, procrastinate and conveyor alike, on Redis or PostgreSQL. Each command
prints one JSON object as the last line of its stdout; the runner, in the main virtualenv,
reads it. `describe` also installs the system's schema where it has one (PostgreSQL).

    python -m benchmarks.peers NAME describe --url URL
    python -m benchmarks.peers NAME enqueue  --url URL --n N --cap S [--bulk]
    python -m benchmarks.peers NAME prefill  --url URL --n N [--one-call]
    python -m benchmarks.peers NAME latency  --url URL --n N --log PATH --interval S ...
    python -m benchmarks.peers NAME work     --url URL --log PATH --concurrency C
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import importlib.metadata
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

from benchmarks import completions
from benchmarks.completions import CompletionLog
from benchmarks.measure import WARMUP, Rate

BULK_BATCH = 1000  # jobs per bulk call
PREFILL_PRODUCERS = 20  # concurrent enqueues when filling a queue without a bulk API
UNAVAILABLE_EXIT = 3

# What a one-call job does before it records itself: one round trip of its own to the server,
# on a client its worker process made once (each peer makes it the way its framework says).
COUNTER = "bench:one-call"  # the Redis key each job INCRs
STATEMENT = "SELECT 1"  # the SQL each job runs
AUTOCOMMIT = {"autocommit": True}  # its pool's connections: no BEGIN/COMMIT, one round trip


class Unavailable(Exception):
    """The system cannot run here: conveyor's backend not written yet, a module missing."""


class Producer(Protocol):
    """The client side of one system, connected to one Redis."""

    async def enqueue(self, index: int, sent: float) -> None: ...

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        """Raise NotImplementedError when the system has no bulk API."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class Peer:
    """What each peer module exports as `PEER`."""

    distributions: tuple[str, ...]  # whose installed versions the report prints
    settings: Callable[[int], list[str]]  # concurrency -> how it is configured, in words
    # url, one_call -> a client whose jobs are no-ops, or each make one call of their own
    producer: Callable[[str, bool], AbstractAsyncContextManager[Producer]]
    work: Callable[[str, int], None]  # url, concurrency: run one worker until SIGTERM
    bulk_api: str | None = None  # the bulk enqueue call, None when there is none
    install: Callable[[str], Awaitable[None]] | None = None  # url: its schema, into a new db
    # URL scheme -> the client distributions whose versions matter on that server
    clients: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def load(name: str) -> Peer:
    try:
        peer = importlib.import_module(f"benchmarks.peers.{name}").PEER
    except ImportError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
    assert isinstance(peer, Peer), f"benchmarks.peers.{name}.PEER is not a Peer"
    return peer


def versions(distributions: Sequence[str]) -> dict[str, str]:
    found = {}
    optional = ("hiredis",) if "redis" in distributions else ()
    for name in (*distributions, *optional):  # hiredis changes redis-py's parsing speed
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name != "hiredis":
                found[name] = "not installed"
    found["python"] = sys.version.split()[0]
    return found


async def describe(peer: Peer, url: str, concurrency: int) -> dict[str, Any]:
    """Versions and settings, after installing its schema; connecting proves it can run here."""
    if peer.install is not None:
        await peer.install(url)
    async with peer.producer(url, False):
        pass
    scheme = url.partition("://")[0]
    return {
        "versions": versions((*peer.distributions, *peer.clients.get(scheme, ()))),
        "settings": peer.settings(concurrency),
        "bulk_api": peer.bulk_api,
    }


async def enqueue(peer: Peer, url: str, n: int, cap: float, bulk: bool) -> Rate:
    """N jobs, one call at a time or by the bulk API, after a warm-up; stops at the cap."""
    deadline = time.monotonic() + cap
    async with peer.producer(url, False) as producer:
        if bulk:
            await producer.enqueue_bulk([(-1, time.time()) for _ in range(WARMUP)])
        else:
            for _ in range(WARMUP):
                await producer.enqueue(-1, time.time())
        done = 0
        start = time.perf_counter()
        if bulk:
            for first in range(0, n, BULK_BATCH):
                batch = range(first, min(first + BULK_BATCH, n))
                await producer.enqueue_bulk([(i, time.time()) for i in batch])
                done += len(batch)
                if time.monotonic() > deadline:
                    break
        else:
            for i in range(n):
                await producer.enqueue(i, time.time())
                done += 1
                if time.monotonic() > deadline:
                    break
        return Rate(done, n, time.perf_counter() - start)


async def prefill(peer: Peer, url: str, n: int, one_call: bool) -> dict[str, Any]:
    """Setup for the drain, not timed: the quickest way each system offers."""
    async with peer.producer(url, one_call) as producer:
        if peer.bulk_api:
            for first in range(0, n, BULK_BATCH):
                batch = range(first, min(first + BULK_BATCH, n))
                await producer.enqueue_bulk([(i, time.time()) for i in batch])
        else:

            async def share(indices: range) -> None:
                for i in indices:
                    await producer.enqueue(i, time.time())

            await asyncio.gather(
                *(share(range(k, n, PREFILL_PRODUCERS)) for k in range(PREFILL_PRODUCERS))
            )
    return {"queued": n}


async def latency(
    peer: Peer, url: str, n: int, log: Path, interval: float, settle: float, boot_cap: float
) -> dict[str, Any]:
    """One job proves the worker is up; after it idles `settle` s, N jobs `interval` apart.

    Each carries `time.time()` taken just before its enqueue call; the worker's log gives the
    start times. Sending from here keeps the connection warm between the two phases.
    """
    seen = CompletionLog(log)
    async with peer.producer(url, False) as producer:
        await producer.enqueue(-1, time.time())
        if await asyncio.to_thread(seen.wait_for, 1, time.monotonic() + boot_cap, _true) < 1:
            return {"sent": 0, "error": f"no warm-up job ran within {boot_cap:g} s"}
        await asyncio.sleep(settle)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k in range(n):
            await asyncio.sleep(max(0.0, start + k * interval - loop.time()))
            await producer.enqueue(k, time.time())
    return {"sent": n}


def _true() -> bool:
    return True


def stop_on_signal(stop: Callable[[], None]) -> None:
    """For thread-based workers: call `stop` on SIGTERM or SIGINT."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())


def serve_until_stopped(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run an asyncio worker; SIGTERM or SIGINT sets the event it was given, to stop it."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(run())


async def _run(args: argparse.Namespace, peer: Peer) -> dict[str, Any]:
    if args.command == "describe":
        return await describe(peer, args.url, args.concurrency)
    if args.command == "enqueue":
        return dataclasses.asdict(await enqueue(peer, args.url, args.n, args.cap, args.bulk))
    if args.command == "prefill":
        return await prefill(peer, args.url, args.n, args.one_call)
    return await latency(
        peer, args.url, args.n, Path(args.log), args.interval, args.settle, args.boot_cap
    )


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("name", help="the module in benchmarks/peers")
    parser.add_argument("command", choices=["describe", "enqueue", "prefill", "latency", "work"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--cap", type=float, default=60.0)
    parser.add_argument("--bulk", action="store_true")
    parser.add_argument("--one-call", action="store_true", help="prefill: one-call jobs")
    parser.add_argument("--log", help="the completion log (work, latency)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--boot-cap", type=float, default=60.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    try:
        peer = load(args.name)
        if args.command == "work":
            completions.open_for_writing(Path(args.log))
            peer.work(args.url, args.concurrency)
            return
        outcome = asyncio.run(_run(args, peer))
    except Unavailable as exc:
        print(f"unavailable: {exc}", file=sys.stderr, flush=True)
        print(json.dumps({"unavailable": str(exc)}), flush=True)
        raise SystemExit(UNAVAILABLE_EXIT) from None
    print(json.dumps(outcome), flush=True)
