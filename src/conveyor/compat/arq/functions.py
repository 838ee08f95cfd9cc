"""ARQ's `func(...)`: a job function with settings of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import importlib
from collections.abc import Callable, Coroutine
from typing import Any

from conveyor.errors import ConfigurationError

# an ARQ job: `async def f(ctx, *args, **kwargs)`
JobFunction = Callable[..., Coroutine[Any, Any, Any]]


@dataclasses.dataclass
class Function:
    name: str
    coroutine: JobFunction
    timeout_s: float | None
    keep_result_s: float | None
    keep_result_forever: bool | None
    max_tries: int | None


def func(
    coroutine: str | JobFunction,
    *,
    name: str | None = None,
    keep_result: float | datetime.timedelta | None = None,
    timeout: float | datetime.timedelta | None = None,
    keep_result_forever: bool | None = None,
    max_tries: int | None = None,
) -> Function:
    """An ARQ function with settings of its own (those left None come from WorkerSettings)."""
    if isinstance(coroutine, str):
        coroutine = import_path(coroutine.replace(":", "."), f"func({coroutine!r})")
    if not asyncio.iscoroutinefunction(coroutine):
        raise ConfigurationError(f"func: {coroutine!r} is not a coroutine function (async def)")
    return Function(
        name=name or coroutine.__qualname__,
        coroutine=coroutine,
        timeout_s=seconds(timeout),
        keep_result_s=seconds(keep_result),
        keep_result_forever=keep_result_forever,
        max_tries=max_tries,
    )


def import_path(path: str, where: str) -> Any:
    module_name, _, attribute = path.rpartition(".")
    if not module_name or not all(part.isidentifier() for part in path.split(".")):
        raise ConfigurationError(f"{where}: write module.attribute, such as app.WorkerSettings")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{where}: cannot import {module_name}: {exc}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(f"{where}: {module_name} has no {attribute!r}") from None


def seconds(value: float | datetime.timedelta | None) -> float | None:
    return value.total_seconds() if isinstance(value, datetime.timedelta) else value
