"""The `conveyor` command line."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from conveyor.app import DEFAULT_URL, Conveyor
from conveyor.backends.base import FINISHED, JobFilter
from conveyor.cli_store import (
    command_app,
    looked_at_store,
    looking,
    no_store,
)
from conveyor.encryption import is_sealed
from conveyor.errors import ConfigurationError, ConveyorError
from conveyor.fair_share import parse_queues
from conveyor.job import JobRecord, JobState
from conveyor.job_ids import id_problem
from conveyor.logs import LogFormat, configure_logging
from conveyor.middleware.logs import JobLogMiddleware
from conveyor.redact import Redactor, readable_arguments
from conveyor.scheduler import Schedule
from conveyor.sealing import shown
from conveyor.wording import counted
from conveyor.worker import run_worker

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")
STATE_COLORS = {
    JobState.SCHEDULED: "cyan",
    JobState.QUEUED: "blue",
    JobState.ACTIVE: "yellow",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "magenta",
}
# "job 42 has succeeded", never "job 42 is succeeded"
STATE_PHRASES = {
    JobState.SCHEDULED: "is scheduled",
    JobState.QUEUED: "is queued",
    JobState.ACTIVE: "is running",
    JobState.SUCCEEDED: "has succeeded",
    JobState.FAILED: "has failed",
    JobState.CANCELLED: "is cancelled",
}


class _Console:
    """rich's console, made when a command first prints: a worker prints no table, and
    importing rich would cost every worker process memory for nothing."""

    @functools.cached_property
    def _rich(self) -> Console:
        from rich.console import Console

        return Console()

    def print(self, *objects: Any, **options: Any) -> None:
        self._rich.print(*objects, **options)


console = _Console()


def _run(app: Conveyor, work: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work()
        finally:
            await app.close()

    try:
        return asyncio.run(main())
    except ConveyorError as exc:
        raise click.ClickException(str(exc)) from None


def _job_id(job_id: str) -> str:
    problem = id_problem(job_id, "a job id")
    if problem is not None:
        raise click.BadParameter(problem, param_hint="JOB_ID")
    return job_id


def _json(text: str, what: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc}): {text!r}", param_hint=what) from None
    if not isinstance(value, kind):
        example = "'[1, \"a\"]'" if kind is list else "'{\"name\": 1}'"
        raise click.BadParameter(
            f"must be a JSON {kind.__name__}, such as {example}", param_hint=what
        )
    return value


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="milliseconds")


def _state(state: JobState) -> str:
    return f"[{STATE_COLORS[state]}]{state.value}[/]"


@click.group()
@click.version_option(package_name="conveyor")
def main() -> None:
    """conveyor: durable background jobs. Run a worker, enqueue, inspect."""


app_option = click.option(
    "--app", "app_path", envvar="CONVEYOR_APP", help="module:attribute of your Conveyor app."
)
url_option = click.option(
    "--url", envvar="CONVEYOR_URL", help=f"Backend URL (default: {DEFAULT_URL})."
)


@main.command()
@click.argument("app_path", metavar="APP")
@click.option(
    "--arq",
    is_flag=True,
    help="APP is an ARQ app's settings (module.WorkerSettings), run as they are "
    "(see conveyor.compat.arq).",
)
@click.option(
    "--concurrency",
    "-c",
    default=10,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Jobs this worker runs at once.",
)
@click.option(
    "--queues",
    "-q",
    callback=lambda _ctx, _param, value: _checked_queues(value),
    help="Comma-separated queues (default: every task's queue), each with an optional "
    "weight, its share of the jobs when all have work: high:3,low:1.",
)
@click.option("--burst", is_flag=True, help="Exit once no job is due.")
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds running jobs get to finish on SIGTERM.",
)
@click.option(
    "--lease",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds a claim holds without a heartbeat.",
)
@click.option(
    "--heartbeat",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds between lease renewals.",
)
@click.option(
    "--process-pool",
    type=click.IntRange(1, 1_000),
    help="Child processes inside each worker that run the tasks declared "
    "executor='process' (not --processes) [default: CPUs, at most 4].",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 256),
    help="Run this many worker processes, each with every option given here, under one "
    "supervisor that restarts any that dies and passes SIGTERM/SIGINT on to them.",
)
@click.option(
    "--max-jobs-per-child",
    type=click.IntRange(1),
    help="With --processes: a worker process claims this many jobs, finishes them, and is "
    "replaced by a fresh one.",
)
@click.option(
    "--max-memory-per-child",
    type=click.IntRange(1),
    metavar="MB",
    help="With --processes: a worker process whose resident memory passes this many MB "
    "takes no new jobs, finishes those it holds, and is replaced by a fresh one.",
)
@click.option(
    "--supervisor-pid",
    type=int,
    hidden=True,
    help="Set by --processes on the worker processes it starts: the per-child limits apply "
    "to this process, which stops if that supervisor is gone.",
)
@click.option(
    "--record-metrics",
    is_flag=True,
    hidden=True,
    help="Set by --processes --metrics-port on the worker processes it starts: record "
    "Prometheus metrics for the supervisor to serve.",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Enqueue the app's cron ticks from this worker too (safe on every worker).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    help="The least important log lines printed.",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="json: one JSON object per line, with the job's fields on lines about a job.",
)
@click.option(
    "--log-jobs",
    is_flag=True,
    help="A log line as each job starts and ends (off by default: it costs throughput).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65_535),
    help="Serve Prometheus metrics at http://HOST:PORT/metrics (needs conveyor[prometheus]); "
    "with --processes, the supervisor serves the sum of its worker processes.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics endpoint listens on.",
)
def worker(
    app_path: str,
    arq: bool,
    concurrency: int,
    queues: str | None,
    burst: bool,
    grace: float,
    lease: float,
    heartbeat: float,
    process_pool: int | None,
    processes: int | None,
    max_jobs_per_child: int | None,
    max_memory_per_child: int | None,
    supervisor_pid: int | None,
    record_metrics: bool,
    scheduler: bool,
    log_level: str,
    log_format: LogFormat,
    log_jobs: bool,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run a worker for APP (module:attribute) until SIGTERM or SIGINT.

    With --processes N, a supervisor runs N of them and keeps them running.
    """
    configure_logging(log_level, log_format)
    if arq and processes is not None:
        raise click.UsageError("--arq runs one worker process: drop --processes")
    if processes is None and supervisor_pid is None:
        for name, limit in (
            ("--max-jobs-per-child", max_jobs_per_child),
            ("--max-memory-per-child", max_memory_per_child),
        ):
            if limit is not None:
                raise click.UsageError(f"{name} applies to the worker processes of --processes N")
    if processes is not None:
        # the children are this command again, without --processes and its metrics server
        params = click.get_current_context().params
        child = _child_argv(app_path, params, metrics_port is not None)
        _supervise(app_path, child, processes, burst, grace + lease, metrics_port, metrics_host)
        return
    app = _arq_app(app_path) if arq else command_app(app_path, None)
    if log_jobs:
        app.add_middleware(JobLogMiddleware())
    if record_metrics:
        from conveyor.metrics import record_metrics as add_metrics_middleware

        add_metrics_middleware(app)
    serving: AbstractAsyncContextManager[object] = contextlib.nullcontext()
    if metrics_port is not None:
        try:
            from conveyor.metrics import metrics_server  # prometheus-client is optional
        except ConveyorError as exc:
            raise click.ClickException(str(exc)) from None
        serving = metrics_server(app, metrics_host, metrics_port)
    options = dict(
        queues=parse_queues(queues) if queues else None,
        concurrency=concurrency,
        burst=burst,
        grace=grace,
        lease=lease,
        heartbeat=heartbeat,
        process_pool=process_pool,
        scheduler=scheduler,
    )

    if supervisor_pid is not None:
        from conveyor.supervised import run_supervised

        max_memory = None if max_memory_per_child is None else max_memory_per_child * 2**20

        async def supervised() -> int:
            return await run_supervised(
                app, supervisor_pid, max_memory=max_memory, max_jobs=max_jobs_per_child, **options
            )

        sys.exit(_run(app, supervised))

    async def work() -> None:
        async with serving:
            await run_worker(app, **options)

    _run(app, work)


def _arq_app(settings_path: str) -> Conveyor:
    """The app an ARQ WorkerSettings describes (imported only when asked for)."""
    from conveyor.compat.arq.worker import conveyor_app, load_settings

    try:
        return conveyor_app(load_settings(settings_path))
    except ConveyorError as exc:
        raise click.BadParameter(str(exc), param_hint="APP") from None


_SUPERVISOR_ONLY = frozenset({"processes", "metrics_port", "metrics_host", "supervisor_pid"})


def _checked_queues(value: str | None) -> str | None:
    """--queues as given, once its names and weights are known to parse."""
    if value is not None:
        try:
            parse_queues(value)
        except ConfigurationError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def _child_argv(app_path: str, params: dict[str, Any], record_metrics: bool) -> list[str]:
    """The command line of one worker process of `conveyor worker --processes`."""
    argv = [sys.executable, "-m", "conveyor", "worker", app_path]
    for name, value in params.items():
        option = f"--{name.replace('_', '-')}"
        if name == "scheduler":
            argv.append(option if value else "--no-scheduler")
        elif name in _SUPERVISOR_ONLY or name == "app_path" or value is None or value is False:
            continue
        elif value is True:
            argv.append(option)
        else:
            argv += [option, str(value)]
    argv += ["--supervisor-pid", str(os.getpid())]
    if record_metrics:
        argv.append("--record-metrics")
    return argv


def _supervise(
    app_path: str,
    child_argv: list[str],
    processes: int,
    burst: bool,
    stop_within: float,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    from conveyor.supervisor import Supervisor, multiprocess_directory

    with contextlib.ExitStack() as cleanup:
        on_exit: Callable[[int], None] | None = None
        serving: AbstractAsyncContextManager[object] = contextlib.nullcontext()
        if metrics_port is not None:  # before prometheus-client is imported, here or by the app
            cleanup.enter_context(multiprocess_directory())
        # loaded here too, so a broken app fails once, in one line, not in every child
        app = command_app(app_path, None)
        if metrics_port is not None:
            try:
                from conveyor.metrics import metrics_server, process_exited
            except ConveyorError as exc:
                raise click.ClickException(str(exc)) from None
            serving, on_exit = metrics_server(app, metrics_host, metrics_port), process_exited
        supervisor = Supervisor(
            child_argv, processes, burst=burst, stop_timeout=stop_within + 30, on_exit=on_exit
        )

        async def work() -> None:
            async with serving:
                await supervisor.run()

        _run(app, work)


@main.command()
@click.argument("app_path", metavar="APP")
@click.argument("task_name", metavar="TASK")
@click.option("--args", "args_json", default="[]", help="Positional arguments as a JSON list.")
@click.option("--kwargs", "kwargs_json", default="{}", help="Keyword arguments as a JSON object.")
@click.option("--queue", help="Queue (default: the task's).")
@click.option("--delay", type=click.FloatRange(0), help="Seconds before the job is due.")
@click.option("--priority", type=int, help="Higher runs first.")
@click.option("--job-id", help="Idempotency key: an existing job with this id is returned.")
def enqueue(
    app_path: str,
    task_name: str,
    args_json: str,
    kwargs_json: str,
    queue: str | None,
    delay: float | None,
    priority: int | None,
    job_id: str | None,
) -> None:
    """Enqueue TASK of APP with JSON arguments; print the job id."""
    app = command_app(app_path, None)
    task = app.tasks.get(task_name) or next(
        (t for n, t in app.tasks.items() if n.rsplit(".", 1)[-1] == task_name), None
    )
    if task is None:
        known = ", ".join(app.task_names()) or "none"
        raise click.BadParameter(
            f"no task {task_name!r} in {app_path}; known: {known}", param_hint="TASK"
        )
    args = _json(args_json, "--args", list)
    kwargs = _json(kwargs_json, "--kwargs", dict)
    options: dict[str, Any] = {}
    for key, value in (
        ("queue", queue),
        ("delay", delay),
        ("priority", priority),
        ("job_id", job_id),
    ):
        if value is not None:
            options[key] = value

    async def work() -> str:
        # JSON from the shell is read the way a worker reads a payload: typed by annotations
        arguments = task.bind(tuple(args), dict(kwargs))
        typed = task.codec.decode(json.dumps(arguments).encode())
        call_args, call_kwargs = task.call_arguments(typed)
        handle = await task.options(**options).enqueue(*call_args, **call_kwargs)
        note = "" if handle.created else " (already existed)"
        return f"{handle.id}{note}"

    console.print(_run(app, work))


@main.group()
def jobs() -> None:
    """List, show, retry, cancel and purge jobs."""


@jobs.command("list")
@app_option
@url_option
@click.option(
    "--state", type=click.Choice([s.value for s in JobState]), help="Only jobs in this state."
)
@click.option("--queue", help="Only jobs of this queue.")
@click.option("--task", help="Only jobs of this task (its full name, module.function).")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Jobs shown."
)
@click.option(
    "--offset", default=0, show_default=True, type=click.IntRange(0), help="Newest jobs skipped."
)
def list_jobs(
    app_path: str | None,
    url: str | None,
    state: str | None,
    queue: str | None,
    task: str | None,
    limit: int,
    offset: int,
) -> None:
    """List jobs, newest first."""
    app = looked_at_store(app_path, url)
    query = JobFilter(queue, JobState(state) if state else None, task, limit, offset)

    async def work() -> list[JobRecord]:
        return await (await app.connected()).list_jobs(query)

    records = _run(app, work)
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    # ids and task names stay whole so they can be copied; the rest gives way to the width
    longest_id = max((len(r.id) for r in records), default=2)
    longest_task = max((len(r.task) for r in records), default=4)
    table.add_column("id", no_wrap=True, min_width=longest_id)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("tries", no_wrap=True)
    table.add_column("task", no_wrap=True, min_width=min(longest_task, 60))
    table.add_column("queue", overflow="ellipsis", no_wrap=True)
    table.add_column("enqueued", no_wrap=True)
    table.add_column("error", overflow="ellipsis", no_wrap=True)
    for r in records:
        error = escape(f"{r.error.type}: {r.error.message}") if r.error else ""
        table.add_row(
            r.id, _state(r.state), f"{r.attempts}/{r.max_attempts}", r.task, r.queue,
            _clock(r.enqueued_at), error,
        )  # fmt: skip
    console.print(table if records else "no jobs match")


def _clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


@jobs.command("show")
@app_option
@url_option
@click.argument("job_id")
def show_job(app_path: str | None, url: str | None, job_id: str) -> None:
    """Show everything about one job."""
    _job_id(job_id)
    app = looked_at_store(app_path, url)

    async def work() -> JobRecord | None:
        return await (await app.connected()).get(job_id)

    record = _run(app, work)
    if record is None:
        raise click.ClickException(f"no job with id {job_id!r}")
    record = app.readable(record)  # what the app's keys decrypt; the rest shows "encrypted"
    redactor = Redactor()
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=False)
    rows: list[tuple[str, str]] = [
        ("id", record.id),
        ("task", record.task),
        ("queue", record.queue),
        ("state", _state(record.state)),
        ("priority", str(record.priority)),
        ("attempts", f"{record.attempts}/{record.max_attempts}"),
        ("enqueued", _time(record.enqueued_at)),
        ("due", _time(record.due_at)),
        ("started", _time(record.started_at)),
        ("finished", _time(record.finished_at)),
        ("worker", record.worker or "-"),
        ("arguments", _arguments(app, record, redactor)),
        ("headers", json.dumps({n: shown(v) for n, v in redactor.headers(record.headers).items()})),
    ]
    if record.limit_key is not None:
        rows.append(("concurrency", f"at most {record.limit} running with key {record.limit_key}"))
    if record.rate_key is not None:
        rows.append(
            ("rate", f"{record.rate_limit} per {record.rate_period:g} s (bucket {record.rate_key})")
        )
    if record.progress is not None:
        message = shown(record.progress_message or "")
        rows.append(("progress", f"{record.progress:.0%} {message}"))
    if record.result is not None:
        rows.append(("result", shown(record.result)))
    if record.error is not None:
        rows.append(
            ("error", f"{record.error.type}: {record.error.message} ({record.error.reason})")
        )
    for name, value in rows:  # stored text is shown as it is: "[redacted]" is no markup
        table.add_row(name, value if name == "state" else escape(value))
    console.print(table)
    if record.error is not None and record.error.traceback:
        console.print(record.error.traceback, markup=False, highlight=False)


def _arguments(app: Conveyor, record: JobRecord, redactor: Redactor) -> str:
    """The job's arguments, secrets redacted by the dashboard's rule (typed by the task's
    codec when --app knows the task)."""
    value, _ = readable_arguments(record, app.find_task(record.task), redactor)
    if value is not None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return shown(record.payload) if is_sealed(record.payload) else "<not JSON: not shown>"


@jobs.command("retry")
@app_option
@url_option
@click.argument("job_id")
def retry_job(app_path: str | None, url: str | None, job_id: str) -> None:
    """Queue a failed or cancelled job again."""
    _job_id(job_id)
    app = looked_at_store(app_path, url)

    async def work() -> JobRecord | None:
        return await (await app.connected()).retry(job_id)

    record = _run(app, work)
    if record is None:
        raise click.ClickException(f"no job with id {job_id!r}")
    if record.state is not JobState.QUEUED:
        raise click.ClickException(
            f"job {job_id} {STATE_PHRASES[record.state]}: only failed or cancelled jobs can be "
            "retried"
        )
    console.print(f"{job_id} queued again")


@jobs.command("cancel")
@app_option
@url_option
@click.argument("job_id")
def cancel_job(app_path: str | None, url: str | None, job_id: str) -> None:
    """Cancel a pending job, or ask a running one to stop."""
    _job_id(job_id)
    app = looked_at_store(app_path, url)

    async def work() -> JobRecord | None:
        return await (await app.connected()).cancel(job_id)

    record = _run(app, work)
    if record is None:
        raise click.ClickException(f"no job with id {job_id!r}")
    if record.state is JobState.ACTIVE:
        console.print(f"{job_id} is running: asked it to stop")
    elif record.state is JobState.CANCELLED:
        console.print(f"{job_id} is cancelled")
    else:
        raise click.ClickException(
            f"job {job_id} {STATE_PHRASES[record.state]}: only a job that has not ended can be "
            "cancelled"
        )


@jobs.command("purge")
@app_option
@url_option
@click.option(
    "--state",
    "states",
    multiple=True,
    required=True,
    type=click.Choice([s.value for s in FINISHED]),
    help="Delete the jobs in this state; repeat for more.",
)
@click.option(
    "--older-than", type=click.FloatRange(0), help="Only jobs finished this many seconds ago."
)
@click.option("--queue", help="Only jobs of this queue.")
def purge_jobs(
    app_path: str | None,
    url: str | None,
    states: tuple[str, ...],
    older_than: float | None,
    queue: str | None,
) -> None:
    """Delete finished jobs."""
    app = looked_at_store(app_path, url)

    async def work() -> int:
        backend = await app.connected()
        return await backend.purge([JobState(s) for s in states], older_than, queue)

    console.print(f"purged {counted(_run(app, work), 'job')}")


@main.group()
def db() -> None:
    """The store's schema (PostgreSQL)."""


@db.command("migrate")
@app_option
@url_option
def migrate_db(app_path: str | None, url: str | None) -> None:
    """Create or upgrade conveyor's tables; safe to repeat and to run from many processes.

    Workers and apps also do this when they connect; run it ahead of a deploy when they
    connect as a role that may not create tables.
    """
    app = command_app(app_path, url, hint="--app")
    if not app.url.startswith(("postgresql:", "postgres:")):
        raise click.UsageError(
            f"conveyor db migrate is for postgresql:// stores; {app.url.split(':', 1)[0]}:// "
            "stores set themselves up when opened"
        )
    from conveyor.backends.postgres import PostgresBackend

    backend = app.backend
    assert isinstance(backend, PostgresBackend)
    before, after = _run(app, backend.migrate)
    if before == after:
        console.print(f"schema {backend.schema!r} is up to date (version {after})")
    else:
        console.print(f"schema {backend.schema!r} migrated from version {before} to {after}")


@main.command()
@app_option
@url_option
def stats(app_path: str | None, url: str | None) -> None:
    """Jobs per queue and state."""
    app = looked_at_store(app_path, url)

    async def work() -> dict[str, dict[JobState, int]]:
        return await (await app.connected()).counts()

    counts = _run(app, work)
    from rich.table import Table

    table = Table("queue", *(_state(s) for s in JobState), "total")
    for queue in sorted(counts):
        per_state = counts[queue]
        cells = [str(per_state.get(s, 0)) for s in JobState]
        table.add_row(queue, *cells, str(sum(per_state.values())))
    console.print(table if counts else "no jobs")


@main.command()
@app_option
def schedules(app_path: str | None) -> None:
    """The cron schedules of APP, with their next run and their latest tick's job."""
    if app_path is None:
        raise click.UsageError("schedules live in your code: give --app module:attribute")
    app = looking(command_app(app_path, None, hint="--app"))
    listed = sorted(app.schedules.values(), key=lambda s: s.name)
    if not listed:
        console.print(f"no schedules in {app_path}")
        return
    unstored = no_store(app, app_path, None) is not None

    async def work() -> tuple[float, list[JobRecord | None]]:
        if unstored:  # no tick was ever enqueued, and a look must not create the store
            return time.time(), [None] * len(listed)
        backend = await app.connected()
        now = await backend.now()
        ticks = [s.latest_tick(now) for s in listed]
        jobs = [
            None if t is None else await backend.get(s.job_id(t))
            for s, t in zip(listed, ticks, strict=True)
        ]
        return now, jobs

    now, latest_jobs = _run(app, work)
    from rich.table import Table

    table = Table("name", "expression", "timezone", "task", "next run", "latest tick")
    for schedule, record in zip(listed, latest_jobs, strict=True):
        upcoming = schedule.next_tick(now)
        latest = schedule.latest_tick(now)
        if latest is None:
            last = "-"
        else:
            last = f"{_zoned(latest, schedule)} " + (
                "not in the store" if record is None else _state(record.state)
            )
        table.add_row(
            schedule.name,
            schedule.expression,
            str(schedule.timezone),
            schedule.task_name,
            "never" if upcoming is None else _zoned(upcoming, schedule),
            last,
        )
    console.print(table)


def _zoned(epoch: float, schedule: Schedule) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, schedule.timezone)
    return moment.isoformat(sep=" ", timespec="seconds")


@main.command()
@app_option
@url_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; any but a loopback address needs credentials.",
)
@click.option(
    "--port",
    default=8181,
    show_default=True,
    type=click.IntRange(0, 65_535),
    help="The port to listen on; 0 picks a free one.",
)
@click.option(
    "--auth",
    "auth",
    multiple=True,
    metavar="USER:PASSWORD",
    help="A user who may look and act; repeat for more. Prefer $CONVEYOR_DASHBOARD_AUTH: "
    "other users of this machine can read a command line.",
)
@click.option(
    "--viewer",
    multiple=True,
    metavar="USER:PASSWORD",
    help="A user who may look but not act; repeat for more.",
)
@click.option("--read-only", is_flag=True, help="Nobody may act, whatever their credentials.")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    help="The least important log lines printed.",
)
def dashboard(
    app_path: str | None,
    url: str | None,
    host: str,
    port: int,
    auth: tuple[str, ...],
    viewer: tuple[str, ...],
    read_only: bool,
    log_level: str,
) -> None:
    """Serve the web dashboard of a store, at http://127.0.0.1:8181 by default.

    Give --app so it knows your tasks (to show their arguments typed) and your schedules;
    --url alone shows the store's jobs as plain JSON. Each action taken from it is logged
    (logger conveyor.dashboard.audit).
    """
    import signal
    import sys

    try:
        from conveyor.dashboard.access import Credentials, Role
        from conveyor.dashboard.serve import check_binding, serve
    except ConveyorError as exc:  # Starlette or Jinja2 missing
        raise click.ClickException(str(exc)) from None
    given = list(auth)
    from_env = os.environ.get("CONVEYOR_DASHBOARD_AUTH")
    if from_env:
        given.append(from_env)
    try:
        credentials = [Credentials.parse(text) for text in given]
        credentials += [Credentials.parse(text, Role.VIEWER) for text in viewer]
        check_binding(host, credentials)
    except ConveyorError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(log_level, "text")
    # it may act, and may start before any worker: it opens the store as a worker would
    app = command_app(app_path, url, hint="--app")

    def ready(address: str) -> None:
        who = "credentials required" if credentials else "no credentials: this machine only"
        mode = ", read-only" if read_only else ""
        click.echo(f"conveyor dashboard on {address} ({who}{mode}); Ctrl-C to stop")

    # SIGTERM stops serving as Ctrl-C does (uvicorn raises it again once it has stopped)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(
            serve(app, host, port, credentials=credentials, read_only=read_only, on_ready=ready)
        )
    except KeyboardInterrupt:
        pass
    except ConveyorError as exc:
        raise click.ClickException(str(exc)) from None
