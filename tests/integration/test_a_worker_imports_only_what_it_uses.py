"""An idle worker process imports what running jobs on its store needs, and nothing else:
not the CLI's table printing, not the dashboard, metrics or tracing it was not asked for,
not the client of another store, not pydantic before a job needs it, not what cron
schedules, unique jobs, signing or process tasks need in an app that has none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from live_services import fresh_postgres, fresh_redis

APP_SOURCE = """\
import sys
import types

from conveyor import Conveyor

app = Conveyor({url!r})


@app.task
async def add(a: int, b: int = 1) -> int:
    return a + b


@app.on_startup
async def list_modules(state: types.SimpleNamespace) -> None:
    with open({listing!r}, "w") as listing:
        listing.write("\\n".join(sorted(sys.modules)))
"""

NEVER_IDLE = {
    "rich",  # the CLI's tables
    "conveyor.dashboard",
    "starlette",
    "prometheus_client",  # no --metrics-port
    "conveyor.middleware.tracing",
    "opentelemetry",
    "pythonjsonlogger",  # text logs
    "multiprocessing",  # no executor="process" task has run
    "pydantic",  # the task's plain arguments need it only once a job comes
    "typing_extensions",  # with pydantic, for the arguments' closed TypedDict
    "cronsim",  # no cron schedule
    "zoneinfo",
    "decimal",  # shown by the redactor only when a value is one
    "hashlib",  # no unique job, no signing or encryption keys
    "hmac",
    "conveyor.processes",  # no executor="process" task has run
}
STORE_CLIENTS = {"sqlite": "sqlite3", "redis": "redis", "postgresql": "psycopg"}
# what a store's client imports of its own accord: redis-py 8 its OpenTelemetry hooks (when
# installed, with typing_extensions) and hashlib (script digests), psycopg the types it
# adapts; and what the Redis store uses itself: secrets (and so hmac) for its lease tokens
CLIENTS_OWN = {
    "sqlite": set(),
    "redis": {"opentelemetry", "typing_extensions", "hashlib", "hmac"},
    "postgresql": {"typing_extensions", "decimal", "zoneinfo"},
}


def idle_worker_modules(folder: Path, url: str) -> set[str]:
    """The modules of a burst worker on `url` as its app starts up, before any claim."""
    listing = folder / "modules.txt"
    (folder / "idle_app.py").write_text(APP_SOURCE.format(url=url, listing=str(listing)))
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", "idle_app:app", "--burst"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(listing.read_text().split())


def top_level(modules: set[str]) -> set[str]:
    return modules | {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("store", ["sqlite", "redis", "postgresql"])
def test_an_idle_worker_leaves_out_what_it_does_not_use(store: str, tmp_path: Path) -> None:
    if store == "postgresql":
        with fresh_postgres() as url:
            imported = top_level(idle_worker_modules(tmp_path, url))
    else:
        url = f"sqlite:///{tmp_path}/jobs.db" if store == "sqlite" else fresh_redis()
        imported = top_level(idle_worker_modules(tmp_path, url))

    assert "conveyor.worker" in imported
    assert STORE_CLIENTS[store] in imported
    other_clients = {client for name, client in STORE_CLIENTS.items() if name != store}
    assert imported & (NEVER_IDLE - CLIENTS_OWN[store] | other_clients) == set()
