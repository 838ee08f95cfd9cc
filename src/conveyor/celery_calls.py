"""Celery's call sites on conveyor tasks: `task.delay(...)` and `task.apply_async(...)`.

They are sync, as Celery's are, so Celery-era code (Django, Flask, scripts) keeps its
calls; they store the job through the app's portal. In async code the native form is
`await task.options(...).enqueue(...)`, and these calls say so rather than block the loop.
"""

from __future__ import annotations

import asyncio
import datetime
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.errors import ArgumentError, ConfigurationError, ConveyorError

if TYPE_CHECKING:
    from conveyor.task import EnqueueOptions, Signature, Task

R = TypeVar("R")
SUPPORTED = "args, kwargs, countdown, eta, task_id, queue, priority"


def celery_call(
    task: Task[..., R],
    args: Sequence[Any] | None,
    kwargs: Mapping[str, Any] | None,
    *,
    countdown: float | None,
    eta: datetime.datetime | None,
    task_id: str | None,
    queue: str | None,
    priority: int | None,
    unsupported: Mapping[str, object],
) -> Signature[R]:
    """apply_async's call as conveyor's `task.options(...).s(*args, **kwargs)`, checked."""
    where = f"{task.name}.apply_async()"
    _refuse_running_loop(where)
    if unsupported:
        raise ConfigurationError(
            f"{where}: {', '.join(sorted(unsupported))} not supported; it takes {SUPPORTED}"
        )
    if args is None:
        args = ()
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise ArgumentError(f"{where}: args must be a list or tuple, got {args!r}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise ArgumentError(f"{where}: kwargs must be a dict, got {kwargs!r}")
    options: EnqueueOptions = {}
    if countdown is not None:
        if isinstance(countdown, bool) or not isinstance(countdown, int | float):
            raise ConfigurationError(f"{where}: countdown must be seconds, got {countdown!r}")
        if not math.isfinite(countdown) or countdown < 0:
            raise ConfigurationError(f"{where}: countdown must be >= 0 seconds, got {countdown!r}")
        if eta is not None:
            raise ConfigurationError(f"{where}: give countdown or eta, not both")
        options["delay"] = countdown
    if eta is not None:
        options["eta"] = eta
    if task_id is not None:
        options["job_id"] = task_id
    if queue is not None:
        options["queue"] = queue
    if priority is not None:
        options["priority"] = priority  # higher runs first, as on Celery's RabbitMQ broker
    try:
        call = task.options(**options)
    except ConfigurationError as exc:  # name the call that was made, and its options
        message = str(exc).replace(f"{task.name}.options()", where).replace("job_id", "task_id")
        raise ConfigurationError(message) from None
    return call.s(*args, **dict(kwargs or {}))


def _refuse_running_loop(where: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise ConveyorError(
        f"{where} and delay() are sync and would block this event loop: in async code write "
        "await task.enqueue(...), or await task.options(delay=..., job_id=...).enqueue(...)"
    )
