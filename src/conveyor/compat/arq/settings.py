"""What conveyor reads of an ARQ app's `WorkerSettings`, with ARQ's defaults."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from conveyor.errors import ConfigurationError

from .connections import RedisSettings
from .cron import CronJob
from .functions import Function, func, seconds
from .wire import DEFAULT_KEEP_RESULT, DEFAULT_MAX_TRIES, DEFAULT_QUEUE, DEFAULT_TIMEOUT

Hook = Callable[[dict[str, Any]], Awaitable[None]]

# settings conveyor cannot honour, each with the value that means "not used"
REFUSED = (
    ("after_job_end", None, "not supported: the result is stored in a batch; use on_job_end"),
    ("retry_jobs", True, "retry_jobs=False is not supported: jobs that raise Retry retry"),
    ("job_serializer", None, "conveyor stores JSON and never pickles: remove it"),
    ("job_deserializer", None, "conveyor stores JSON and never pickles: remove it"),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The WorkerSettings conveyor reads, with ARQ's defaults. The others (poll_delay,
    health checks, signal handling, ...) have no meaning on conveyor and are left alone."""

    functions: Sequence[Function]
    cron_jobs: Sequence[CronJob]
    redis_settings: RedisSettings
    queue_name: str
    max_tries: int
    job_timeout: float | None
    keep_result: float | None
    on_startup: Hook | None
    on_shutdown: Hook | None
    on_job_start: Hook | None
    on_job_end: Hook | None
    ctx: Mapping[str, Any]
    timezone: datetime.tzinfo

    @classmethod
    def read(cls, settings: object) -> Settings:
        def get(name: str, default: Any = None) -> Any:
            if isinstance(settings, Mapping):
                return settings.get(name, default)
            return getattr(settings, name, default)

        for name, refused, why in REFUSED:
            if get(name, refused) != refused:
                raise ConfigurationError(f"WorkerSettings.{name}: {why}")
        functions = [f if isinstance(f, Function) else func(f) for f in get("functions", ())]
        cron_jobs = list(get("cron_jobs", None) or ())
        if not functions and not cron_jobs:
            raise ConfigurationError("WorkerSettings: give at least one of functions, cron_jobs")
        for job in cron_jobs:
            if not isinstance(job, CronJob):
                raise ConfigurationError(f"WorkerSettings.cron_jobs: {job!r} is not a cron(...)")
        redis_settings = get("redis_settings") or RedisSettings()
        if not isinstance(redis_settings, RedisSettings):
            raise ConfigurationError(
                "WorkerSettings.redis_settings must be a conveyor.compat.arq RedisSettings, "
                f"got {redis_settings!r}"
            )
        keep_result = seconds(get("keep_result", DEFAULT_KEEP_RESULT))
        return cls(
            functions=functions,
            cron_jobs=cron_jobs,
            redis_settings=redis_settings,
            queue_name=get("queue_name", DEFAULT_QUEUE),
            max_tries=get("max_tries", DEFAULT_MAX_TRIES),
            job_timeout=seconds(get("job_timeout", DEFAULT_TIMEOUT)),
            keep_result=None if get("keep_result_forever", False) else keep_result,
            on_startup=get("on_startup"),
            on_shutdown=get("on_shutdown"),
            on_job_start=get("on_job_start"),
            on_job_end=get("on_job_end"),
            ctx=dict(get("ctx", None) or {}),
            timezone=get("timezone", None) or datetime.UTC,
        )
