"""`python -m benchmarks.redis_bench.profile`: where a conveyor worker's time goes on Redis.

Queues N no-op jobs on a private Redis, starts one worker process as the benchmark does, and
samples it with py-spy (`pip install py-spy`) from its first instruction until every job has
run. Prints the functions that hold the most samples: by own time, then including callees.
Sampling does not slow the worker down much, so the rate printed stays meaningful.
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
from pathlib import Path

from benchmarks.redis_bench.server import private_redis
from benchmarks.redis_bench.workloads import Sizes, System

LIBRARIES = ("conveyor", "redis")  # whose functions the inclusive table lists


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_bench.profile")
    parser.add_argument("--n", type=int, default=20000, help="jobs to drain")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    return parser.parse_args(argv)


def frames(stack: str) -> list[str]:
    """`a (file.py:12);b (other.py:3)` -> ['a (file.py)', 'b (other.py)'], outermost first."""
    return [part.rsplit(":", 1)[0] + ")" if ":" in part else part for part in stack.split(";")]


def tables(collapsed: Path, top: int) -> str:
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
            if any(f"({package}/" in name for package in LIBRARIES):
                inclusive[name] += samples
    out = [f"{total} samples"]
    for title, counter in (
        ("own time", own),
        ("including callees (conveyor, redis-py)", inclusive),
    ):
        out += ["", f"### top {top} by {title}", ""]
        out += [f"{100 * k / max(total, 1):5.1f} %  {name}" for name, k in counter.most_common(top)]
    return "\n".join(out)


def main(argv: list[str]) -> None:
    args = parse(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    sizes = Sizes(drain=args.n, concurrency=args.concurrency)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        folder = Path(scratch)
        with private_redis(folder) as server:
            system = System("conveyor", sys.executable, server, folder)
            system.call("prefill", "--n", str(args.n), timeout=600)
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
                f"conveyor drain under py-spy: {seen:,}/{args.n:,} jobs in {seconds:.2f} s from "
                f"worker start ({seen / seconds:,.0f} jobs/s), concurrency {args.concurrency}"
            )
            print(tables(out, args.top) if out.exists() else "py-spy wrote no profile")


if __name__ == "__main__":
    main(sys.argv[1:])
