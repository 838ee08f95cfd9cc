"""The app the worker processes of the processes curve run:
`conveyor worker benchmarks.processes_curve.app:app --processes N`.

Its store is $BENCH_PROCESSES_URL; each job notes that it ran in the completion log
$BENCH_PROCESSES_LOG, outside the store under test.
"""

from __future__ import annotations

import os
import types
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from benchmarks import completions
from conveyor import Conveyor
from conveyor.task import Task

URL_ENV = "BENCH_PROCESSES_URL"
LOG_ENV = "BENCH_PROCESSES_LOG"
TASK_NAME = "bench.record"

Job = Task[[int, float], Coroutine[Any, Any, None]]


async def record(index: int, sent: float) -> None:
    """A no-op job that only notes, outside the queue, that it ran."""
    completions.record(index, sent)


def make_app(url: str) -> tuple[Conveyor, Job]:
    app = Conveyor(url)
    return app, app.task(name=TASK_NAME)(record)


app, job = make_app(os.environ.get(URL_ENV, "memory://"))


@app.on_startup
async def open_log(state: types.SimpleNamespace) -> None:
    if LOG_ENV in os.environ:
        completions.open_for_writing(Path(os.environ[LOG_ENV]))
