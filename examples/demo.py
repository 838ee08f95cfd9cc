"""The conveyor demo: the example FastAPI app and a worker on SQLite, driven over HTTP.

Run it with `make demo` (or `python examples/demo.py` inside the project's environment).
It starts the example API (`examples/webapp/api.py`) under uvicorn, a worker process and
the web dashboard (`conveyor dashboard`), the commands you would run in production, on a
fresh SQLite file. Then it sends signups, reports and webhooks through the API, follows the
jobs with a progress bar and one report's live events, and prints where each job ended. The
API and the dashboard keep serving, with curl commands to try, until Ctrl-C (or
`--serve-for SECONDS`; it never reads stdin).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
FINAL = {"succeeded", "failed", "cancelled"}
SIGNUPS = 40
KINDS = ("build_report", "send_welcome_email", "deliver_webhook")
console = Console(soft_wrap=True, highlight=False)

Job = dict[str, Any]  # a job's status, as GET /jobs/{id} answers


def main() -> None:
    options = parse_options()
    folder = Path(tempfile.mkdtemp(prefix="conveyor-demo-"))
    url = f"sqlite:///{folder / 'demo.db'}"
    port = free_port(options.port)
    metrics_port = free_port(0)
    dashboard_port = free_port(options.dashboard_port)
    base = f"http://127.0.0.1:{port}"
    dashboard = f"http://127.0.0.1:{dashboard_port}/"
    console.print(f"[bold]conveyor demo[/]: jobs in {folder / 'demo.db'}, logs in {folder}")
    # SIGTERM ends the demo like Ctrl-C: the processes it started are stopped gracefully
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with started(folder, url, port, metrics_port, dashboard_port) as processes:
        wait_until_serving(f"{base}/openapi.json", processes)
        wait_until_serving(dashboard, processes)
        console.print(f"API on {base} (docs: {base}/docs), worker process running")
        console.print(f"[bold]Dashboard on {dashboard}[/]: watch the jobs below live there")
        ids = send_traffic(base)
        follow_events(base, ids["build_report"][0])
        jobs = watch(base, [job_id for kind in ids.values() for job_id in kind])
        summarize(jobs)
        show_what_to_try(base, f"http://127.0.0.1:{metrics_port}", dashboard, jobs)
        serve(options.serve_for, processes)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--serve-for",
        type=float,
        metavar="SECONDS",
        help="stop serving after this long (default: serve until Ctrl-C)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="the API's port (taken or 0: any free port)"
    )
    parser.add_argument(
        "--dashboard-port",
        type=int,
        default=8181,
        help="the dashboard's port (taken or 0: any free port)",
    )
    return parser.parse_args()


def free_port(wanted: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def started(
    folder: Path, url: str, port: int, metrics_port: int, dashboard_port: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The worker, the API and the dashboard, each in its own session so Ctrl-C reaches
    only the demo, which then stops them with SIGTERM: the graceful path. The dashboard
    listens on 127.0.0.1 without credentials: only this machine can reach it."""
    env = {**os.environ, "CONVEYOR_URL": url}
    commands = {
        "worker": [
            *("-m", "conveyor", "worker", "examples.webapp.tasks:conveyor"),
            *("--metrics-port", str(metrics_port)),
        ],
        "api": ["-m", "uvicorn", "examples.webapp.api:api", "--port", str(port)],
        "dashboard": [
            *("-m", "conveyor", "dashboard", "--app", "examples.webapp.tasks:conveyor"),
            *("--port", str(dashboard_port)),
        ],
    }
    processes = [
        subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=(folder / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, argv in commands.items()
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
        console.print(f"API, worker and dashboard stopped; their logs are in {folder}")


def wait_until_serving(address: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(address, timeout=5):
            return
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            sys.exit("the API, the worker or the dashboard did not start: see their logs")
        time.sleep(0.1)


def call(method: str, url: str, body: object = None) -> tuple[int, Any]:
    """One HTTP request with a JSON body and answer (the standard library is enough)."""
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def send_traffic(base: str) -> dict[str, list[str]]:
    """Signups (a quarter at a busy mail server), reports, webhooks (some receivers down)."""
    ids: dict[str, list[str]] = {kind: [] for kind in KINDS}

    def accepted(kind: str, path: str, body: object) -> None:
        status, answer = call("POST", f"{base}{path}", body)
        assert status == 202, f"POST {path} answered {status}: {answer}"
        ids[kind].append(answer["job_id"])

    started = time.perf_counter()
    accepted("build_report", "/reports", {"pages": 5})
    for i in range(SIGNUPS):
        domain = "flaky.example" if i % 4 == 0 else "example.com"
        accepted("send_welcome_email", "/signup", {"email": f"user{i}@{domain}"})
    for host in ["hooks.example", "hooks.slow.example", "hooks.down.example"] * 4:
        accepted("deliver_webhook", "/webhooks", {"url": f"https://{host}/orders"})
    for pages in (3, 8):
        accepted("build_report", "/reports", {"pages": pages})
    total = sum(len(kind) for kind in ids.values())
    console.print(f"{total} requests answered 202 in {time.perf_counter() - started:.2f} s")

    status, answer = call("POST", f"{base}/signup", {"email": "user1@example.com"})
    console.print(
        f"a second signup of user1@example.com answered {status} ({answer['detail']}): the "
        "endpoint raised, so the email job it had added was never stored"
    )
    return ids


def follow_events(base: str, job_id: str) -> None:
    """Print one report's Server-Sent Events as they arrive, beside the progress bar."""

    def read() -> None:
        with urllib.request.urlopen(f"{base}/jobs/{job_id}/events", timeout=60) as stream:
            for line in stream:
                if line.startswith(b"data:"):
                    event = json.loads(line[5:])
                    done = "" if event["progress"] is None else f"{event['progress']:.0%} "
                    console.print(
                        f"  [magenta]report {job_id[:8]} /events[/]: {event['state']} "
                        f"{done}{event['message'] or ''}"
                    )

    threading.Thread(target=read, daemon=True).start()


def watch(base: str, ids: list[str]) -> list[Job]:
    """A progress bar until every job has ended, following them over GET /jobs/{id}."""
    jobs: dict[str, Job] = {}
    with (
        ThreadPoolExecutor(8) as pool,
        Progress(
            TextColumn("[bold]jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=console,
        ) as progress,
    ):  # fmt: skip
        bar = progress.add_task("", total=len(ids))
        while True:
            pending = [i for i in ids if jobs.get(i, {}).get("state") not in FINAL]
            for status, job in pool.map(lambda i: call("GET", f"{base}/jobs/{i}"), pending):
                assert status == 200, job
                jobs[job["id"]] = job
            states = Counter(job["state"] for job in jobs.values())
            progress.update(
                bar,
                completed=sum(states[s] for s in FINAL),
                description=f"[green]{states['succeeded']} succeeded[/] "
                f"[red]{states['failed']} dead-lettered[/] "
                f"[cyan]{states['scheduled']} waiting to retry[/] "
                f"[yellow]{states['active']} running[/]",
            )
            if not pending:
                return [jobs[i] for i in ids]
            time.sleep(0.2)


def summarize(jobs: list[Job]) -> None:
    table = Table(title=f"where the {len(jobs)} jobs ended (read back over GET /jobs/{{id}})")
    for column in ("task", "succeeded", "dead-lettered", "retried"):
        table.add_column(column)
    for task in dict.fromkeys(job["task"] for job in jobs):
        mine = [job for job in jobs if job["task"] == task]
        table.add_row(
            task.rsplit(".", 1)[-1],
            str(sum(job["state"] == "succeeded" for job in mine)),
            str(sum(job["state"] == "failed" for job in mine)),
            str(sum(job["attempts"] > 1 for job in mine)),
        )
    console.print(table)


def show_what_to_try(base: str, worker_metrics: str, dashboard: str, jobs: list[Job]) -> None:
    report = next(job for job in jobs if job["task"].endswith("build_report"))
    dead = next(job for job in jobs if job["state"] == "failed")
    json_body = "-H 'content-type: application/json' -d"
    console.print(
        f"\n[bold]The dashboard keeps serving on {dashboard}[/]: the dead-lettered webhooks "
        f"are at {dashboard}jobs?state=failed (retry them from there)",
        markup=True,
    )
    console.print(f"[bold]The API keeps serving on {base}[/] (OpenAPI docs: {base}/docs). Try:")
    console.print(
        f"  curl {base}/jobs/{report['id']}   # a finished report\n"
        f"  curl {base}/jobs/{dead['id']}   # a dead-lettered webhook\n"
        f"  curl -X POST {base}/reports {json_body} '{{\"pages\": 20}}'\n"
        f"  curl -N {base}/jobs/JOB_ID/events   # that report's progress, live\n"
        f"  curl -X POST {base}/jobs/JOB_ID/cancel\n"
        f"  curl -X POST {base}/signup -H 'X-Request-ID: my-request-1' {json_body} "
        '\'{"email": "you@flaky.example"}\'\n'
        f"  curl -X POST {base}/webhooks {json_body} "
        '\'{"url": "https://hooks.down.example/x"}\'\n'
        f"  curl {worker_metrics}/metrics   # the worker's Prometheus metrics\n"
        f"  curl {base}/metrics/   # the API's: jobs enqueued, the backlog per queue",
        markup=False,
    )


def serve(seconds: float | None, processes: list[subprocess.Popen[bytes]]) -> None:
    console.print("Ctrl-C to stop." if seconds is None else f"Stopping in {seconds:g} s.")
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                sys.exit("the API, the worker or the dashboard stopped: see their logs")
            time.sleep(0.2)
    except KeyboardInterrupt:
        console.print("stopping")


if __name__ == "__main__":
    main()
