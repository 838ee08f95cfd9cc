"""How an ARQ call is stored: its positional and keyword arguments, as JSON, under the
function's name.

ARQ enqueues by name and lets the worker find the function, so a producer need not import
it. A conveyor task's arguments are keyed by parameter name; an ARQ task's are kept as
`{"args": [...], "kwargs": {...}}`, which a producer can write knowing only the name.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from conveyor.app import Conveyor
from conveyor.context import Context
from conveyor.errors import ConfigurationError
from conveyor.task import AsyncTask, TaskConfig

# ARQ's defaults, where WorkerSettings and func() leave a setting out
DEFAULT_QUEUE = "arq:queue"
DEFAULT_MAX_TRIES = 5
DEFAULT_TIMEOUT = 300.0
DEFAULT_KEEP_RESULT = 3600.0

# Runs one ARQ call: its arguments, and conveyor's context (of which the ctx dict is made)
Runner = Callable[..., Coroutine[Any, Any, Any]]


def wire_task(
    app: Conveyor,
    name: str,
    run: Runner,
    *,
    queue: str,
    max_tries: int,
    keep_result: float | None,
) -> AsyncTask[..., Any]:
    """A task named `name` whose jobs carry ARQ-style arguments. `run` takes `*args`,
    `**kwargs` and a keyword argument `conveyor_context` annotated `Context`."""
    if not isinstance(max_tries, int) or isinstance(max_tries, bool) or max_tries < 1:
        raise ConfigurationError(f"ARQ function {name!r}: max_tries must be an int >= 1")
    config = TaskConfig(
        queue=queue,
        retries=max_tries - 1,  # ARQ counts tries, conveyor the retries after the first
        retry_on=(),  # as in ARQ, only Retry runs a job again: an exception or timeout fails it
        result_ttl=keep_result,
    )
    return AsyncTask(app, run, name, config)


async def stored_only(*args: Any, conveyor_context: Context, **kwargs: Any) -> Any:
    """The function of a task a pool knows only by name: it writes jobs, never runs them."""
    raise ConfigurationError(
        f"{conveyor_context.task_name}: this worker knows the task only by name; run the "
        "worker from your WorkerSettings (conveyor worker --arq module.WorkerSettings)"
    )
