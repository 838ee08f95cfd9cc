"""What every comparison's command shares: its options, the sizes, the rounds, the results file."""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
from pathlib import Path

from benchmarks.progress import Progress
from benchmarks.versus.outcome import Outcome, Say, prepare, run_round
from benchmarks.versus.workloads import QUICK, WORKLOADS, Server, Sizes, System

RESULTS = Path(__file__).resolve().parent.parent / "results"


def parser(
    prog: str, description: str | None, peers: list[str], output: Path
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", help="a smoke run of about 2 minutes")
    parser.add_argument(
        "--systems", help=f"comma-separated, default all: conveyor,{','.join(peers)}"
    )
    parser.add_argument("--n-single", type=int, help="jobs enqueued one call at a time")
    parser.add_argument("--n-bulk", type=int, help="jobs enqueued through the bulk API")
    parser.add_argument(
        "--workloads", help=f"comma-separated, default all, in this order: {','.join(WORKLOADS)}"
    )
    parser.add_argument("--n-drain", type=int, help="jobs drained by one worker (and one-call)")
    parser.add_argument("--n-latency", type=int, help="latency samples per round")
    parser.add_argument("--concurrency", type=int, help="worker concurrency (default 100)")
    parser.add_argument("--cap", type=float, help="seconds per cell at most (default 90)")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions (default 1)")
    parser.add_argument("--seed", type=int, help="for the order of the systems")
    parser.add_argument("--output", type=Path, default=output, help="where to write the table")
    return parser


def sizes_from(args: argparse.Namespace) -> Sizes:
    overrides = {
        "single": args.n_single,
        "bulk": args.n_bulk,
        "drain": args.n_drain,
        "latency": args.n_latency,
        "concurrency": args.concurrency,
        "cap": args.cap,
        "workloads": _workloads(args.workloads),
    }
    sizes = dataclasses.replace(
        QUICK if args.quick else Sizes(), **{k: v for k, v in overrides.items() if v is not None}
    )
    if min(sizes.single, sizes.bulk, sizes.drain, sizes.latency) < 2:
        raise SystemExit("every workload needs at least 2 jobs")
    return sizes


def _workloads(selection: str | None) -> tuple[str, ...] | None:
    if selection is None:
        return None
    chosen = {name.strip() for name in selection.split(",")}
    if unknown := chosen - set(WORKLOADS):
        raise SystemExit(f"unknown workloads {sorted(unknown)}; choose from {WORKLOADS}")
    return tuple(name for name in WORKLOADS if name in chosen)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def seed_of(args: argparse.Namespace) -> int:
    return args.seed if args.seed is not None else random.randrange(10_000)


def run_all(
    server: Server,
    folder: Path,
    names: list[str],
    sizes: Sizes,
    rounds: int,
    seed: int,
    say: Say,
) -> list[Outcome]:
    """Every system set up, then every workload per round, systems in a shuffled order."""
    prepared = [prepare(name, server, folder, sizes, say) for name in names]
    ready: list[tuple[System, Outcome]] = [(s, o) for s, o in prepared if s is not None]
    order = random.Random(seed)
    for k in range(rounds):
        order.shuffle(ready)
        say(f"round {k + 1}/{rounds}: {', '.join(s.name for s, _ in ready)}")
        for system, outcome in ready:
            run_round(system, sizes, outcome, say)
    return [o for _, o in prepared]


def publish(report: str, output: Path, progress: Progress) -> None:
    """Print the table and write it, with each cell's progress line, to `output`."""
    print(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    cells = "\n".join(progress.lines)
    output.write_text(f"{report}\nEach cell as it ran:\n\n```text\n{cells}\n```\n")
    print(f"written to {output}", file=sys.stderr)
