"""ARQ's connection side on conveyor: `RedisSettings` names a store (any conveyor URL through
`from_dsn`), `create_pool` opens it, and the pool enqueues jobs by function name."""

from __future__ import annotations

import dataclasses
import datetime
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.task import EnqueueOptions, Task

from .jobs import Job
from .wire import DEFAULT_KEEP_RESULT, DEFAULT_MAX_TRIES, DEFAULT_QUEUE, stored_only, wire_task


@dataclasses.dataclass
class RedisSettings:
    """Where the jobs live. ARQ's fields name a Redis server; `from_dsn` takes any conveyor
    URL (`sqlite:///jobs.db`, `redis://...`, `postgresql://...`, `memory://`), which is the
    one line that moves an ARQ app to another backend. The connection tuning fields are
    accepted and left to conveyor's own client settings."""

    host: str = "localhost"
    port: int = 6379
    database: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    conn_timeout: float = 1.0
    conn_retries: int = 5
    conn_retry_delay: float = 1.0
    url: str | None = None  # set by from_dsn: used as it is

    @classmethod
    def from_dsn(cls, dsn: str) -> RedisSettings:
        if not isinstance(dsn, str) or "://" not in dsn:
            raise ConfigurationError(
                f"RedisSettings.from_dsn needs a URL such as redis://localhost:6379/0 or "
                f"sqlite:///jobs.db, got {dsn!r}"
            )
        return cls(url=dsn)

    @property
    def conveyor_url(self) -> str:
        """The conveyor backend URL these settings name."""
        if self.url is not None:
            return self.url
        for field, value in (("port", self.port), ("database", self.database)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(f"RedisSettings: {field} must be an int >= 0")
        auth = ""
        if self.username is not None or self.password is not None:
            auth = urllib.parse.quote(self.username or "", safe="")
            if self.password is not None:
                auth += ":" + urllib.parse.quote(self.password, safe="")
            auth += "@"
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{auth}{self.host}:{self.port}/{self.database}"


class ArqRedis:
    """What `create_pool` returns: enqueues jobs by function name, and hands out `Job`s.

    It is not a Redis client: ARQ's pool was one, but conveyor's store may be SQLite or
    PostgreSQL. Keep a client of your own (in `on_startup`) for your own Redis commands.
    """

    def __init__(self, app: Conveyor, default_queue_name: str = DEFAULT_QUEUE) -> None:
        self.app = app
        self.default_queue_name = default_queue_name
        self._by_name: dict[str, Task[..., Any]] = {}  # tasks known only by name

    def __repr__(self) -> str:
        return f"<ArqRedis {self.app!r}>"

    if not TYPE_CHECKING:  # a type checker still flags a misspelt method

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            raise AttributeError(
                f"ArqRedis.{name}: conveyor's pool enqueues jobs and finds them (enqueue_job, "
                "Job(job_id, pool)); it is not a Redis client: open your own for Redis commands"
            )

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _defer_until: datetime.datetime | None = None,
        _defer_by: float | datetime.timedelta | None = None,
        _expires: float | datetime.timedelta | None = None,
        _job_try: int | None = None,
        **kwargs: Any,
    ) -> Job | None:
        """Enqueue `function(ctx, *args, **kwargs)`. None when a job with `_job_id` exists
        already (queued, running, or finished with its result kept), as in ARQ."""
        if _expires is not None or _job_try is not None:
            given = "_expires" if _expires is not None else "_job_try"
            raise ConfigurationError(f"enqueue_job({function!r}): {given} is not supported")
        if _defer_until is not None and _defer_by is not None:
            raise ConfigurationError(
                f"enqueue_job({function!r}): use either _defer_by or _defer_until, not both"
            )
        task = self._task(function)
        options: EnqueueOptions = {}
        if _job_id is not None:
            options["job_id"] = _job_id
        if _queue_name is not None:
            options["queue"] = _queue_name
        if _defer_by is not None:
            options["delay"] = _defer_by
        if _defer_until is not None:
            options["delay"] = _seconds_until(_defer_until, function)
        handle = await task.options(**options).enqueue(*args, **kwargs)
        if not handle.created:
            return None
        return Job(handle.id, self)

    def _task(self, name: str) -> Task[..., Any]:
        """The app's task of that name (the worker's, or a conveyor task), else one known by
        name alone, stored with ARQ's defaults."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"enqueue_job needs a function name, got {name!r}")
        task = self.app.tasks.get(name) or self._by_name.get(name)
        if task is None:
            task = wire_task(
                self.app,
                name,
                stored_only,
                queue=self.default_queue_name,
                max_tries=DEFAULT_MAX_TRIES,
                keep_result=DEFAULT_KEEP_RESULT,
            )
            self._by_name[name] = task
        return task

    async def close(self, close_connection_pool: bool | None = None) -> None:
        await self.app.close()

    async def aclose(self) -> None:
        await self.app.close()

    async def __aenter__(self) -> ArqRedis:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.close()


async def create_pool(
    settings_: RedisSettings | None = None,
    *,
    retry: int = 0,
    job_serializer: object = None,
    job_deserializer: object = None,
    default_queue_name: str | None = None,
) -> ArqRedis:
    """Open the store `settings_` names (a `RedisSettings`, default localhost) and return a
    pool. Arguments travel as JSON, never pickled: custom serializers are refused."""
    if job_serializer is not None or job_deserializer is not None:
        raise ConfigurationError(
            "create_pool: conveyor stores arguments and results as JSON and never pickles; "
            "drop job_serializer/job_deserializer and pass JSON-able values"
        )
    settings = settings_ or RedisSettings()
    if not isinstance(settings, RedisSettings):
        raise ConfigurationError(f"create_pool takes a RedisSettings, got {settings!r}")
    app = Conveyor(settings.conveyor_url)
    await app.open()  # an unreachable store fails here, as ARQ's create_pool does
    return ArqRedis(app, default_queue_name or DEFAULT_QUEUE)


def _seconds_until(when: datetime.datetime, function: str) -> float:
    if not isinstance(when, datetime.datetime):
        raise ConfigurationError(
            f"enqueue_job({function!r}): _defer_until must be a datetime, got {when!r}"
        )
    # a naive datetime is local time, as ARQ reads it
    return max(0.0, when.timestamp() - time.time())
