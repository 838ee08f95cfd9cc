"""Prometheus metrics of jobs, recorded by a middleware. The metric names are public API:

    conveyor_jobs_enqueued_total{task,queue}          jobs stored anew (not a known id or key)
    conveyor_jobs_started_total{task,queue}           attempts started by this process
    conveyor_jobs_finished_total{task,queue,outcome}  attempts ended; outcome one of OUTCOMES
    conveyor_job_duration_seconds{task,queue}         histogram: run time of one attempt
    conveyor_job_queue_wait_seconds{task,queue}       histogram: from due to started
    conveyor_jobs_running{queue}                      gauge: attempts running in this process
    conveyor_queue_jobs{queue,state}                  gauge: the store's scheduled, queued,
                                                      active and failed (dead-letter) jobs
    conveyor_queue_oldest_age_seconds{queue}          gauge: how long the oldest due job has
                                                      waited; 0 when nothing waits

The first six are counted where jobs are enqueued and run: add `PrometheusMiddleware()` to
every process's app (`Conveyor(middleware=[...])`). The two queue gauges are read from the
store when metrics are served (`conveyor.metrics`). No label holds a job id or argument.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence

from conveyor.errors import ConfigurationError
from conveyor.job import JobError
from conveyor.middleware.base import Job, Middleware, Outcome, OutgoingJob

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
except ImportError:
    raise ConfigurationError(
        "the Prometheus middleware needs prometheus-client: pip install 'conveyor[prometheus]'"
    ) from None

__all__ = ["JobMetrics", "PrometheusMiddleware"]

# seconds: a job may take milliseconds or minutes; waits may grow to an hour in a backlog
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (*RUN_BUCKETS, 1800, 3600)


@dataclasses.dataclass(frozen=True, slots=True)
class JobMetrics:
    """conveyor's metric objects in one registry.

    Under prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR set) each process
    writes its own values to that directory: counters and histograms are summed across
    processes, `running` too (over the processes alive), and the queue gauges show the value
    written last, as they describe the one store all processes share.
    """

    enqueued: Counter
    started: Counter
    finished: Counter
    duration: Histogram
    queue_wait: Histogram
    running: Gauge
    queue_jobs: Gauge
    queue_oldest_age: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> JobMetrics:
        task = ("task", "queue")
        return cls(
            enqueued=Counter(
                "conveyor_jobs_enqueued", "Jobs stored anew.", task, registry=registry
            ),
            started=Counter(
                "conveyor_jobs_started", "Job attempts started.", task, registry=registry
            ),
            finished=Counter(
                "conveyor_jobs_finished",
                "Job attempts ended, by outcome.",
                (*task, "outcome"),
                registry=registry,
            ),
            duration=Histogram(
                "conveyor_job_duration_seconds",
                "Run time of one attempt of a job.",
                task,
                buckets=RUN_BUCKETS,
                registry=registry,
            ),
            queue_wait=Histogram(
                "conveyor_job_queue_wait_seconds",
                "Time from a job being due to an attempt starting.",
                task,
                buckets=WAIT_BUCKETS,
                registry=registry,
            ),
            running=Gauge(
                "conveyor_jobs_running",
                "Job attempts running in this worker.",
                ("queue",),
                multiprocess_mode="livesum",
                registry=registry,
            ),
            queue_jobs=Gauge(
                "conveyor_queue_jobs",
                "Jobs in the store by queue and state (scheduled, queued, active, failed).",
                ("queue", "state"),
                multiprocess_mode="mostrecent",
                registry=registry,
            ),
            queue_oldest_age=Gauge(
                "conveyor_queue_oldest_age_seconds",
                "How long the oldest due job of the queue has waited.",
                ("queue",),
                multiprocess_mode="mostrecent",
                registry=registry,
            ),
        )


# one set of metric objects per registry: a second app (or middleware) in the process
# shares them rather than registering the names twice
_metrics: weakref.WeakKeyDictionary[CollectorRegistry, JobMetrics] = weakref.WeakKeyDictionary()
_metrics_lock = threading.Lock()


def _metrics_of(registry: CollectorRegistry) -> JobMetrics:
    with _metrics_lock:
        metrics = _metrics.get(registry)
        if metrics is None:
            metrics = _metrics[registry] = JobMetrics.create(registry)
        return metrics


class PrometheusMiddleware(Middleware):
    """Counts the jobs this process enqueues and runs, into `registry` (prometheus-client's
    default registry unless given). Serve them with `conveyor worker --metrics-port`, or
    `conveyor.metrics.metrics_server` / `metrics_app`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        self.metrics = _metrics_of(self.registry)
        # a labelled series looked up once per task and queue: `.labels()` costs more than
        # the increment it finds
        self._series: dict[tuple[str, str], _Series] = {}

    def _of(self, task: str, queue: str) -> _Series:
        series = self._series.get((task, queue))
        if series is None:
            series = self._series[task, queue] = _Series.of(self.metrics, task, queue)
        return series

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        stored = await call_next()
        for job, created in zip(jobs, stored, strict=False):
            if created:
                self._of(job.task, job.queue).enqueued.inc()
        return stored

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        series = self._of(job.task, job.queue)
        series.started.inc()
        if job.started_at is not None:
            series.queue_wait.observe(max(0.0, job.started_at - job.due_at))
        series.running.inc()
        began = time.perf_counter()
        try:
            await call_next()
        finally:  # a failed, cancelled or interrupted attempt ran too
            series.duration.observe(time.perf_counter() - began)
            series.running.dec()

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        series = self._of(job.task, job.queue)
        finished = series.finished.get(outcome)
        if finished is None:
            finished = series.finished[outcome] = self.metrics.finished.labels(
                job.task, job.queue, outcome
            )
        finished.inc()


@dataclasses.dataclass(slots=True)
class _Series:
    """The labelled children of one task and queue."""

    enqueued: Counter
    started: Counter
    queue_wait: Histogram
    duration: Histogram
    running: Gauge
    finished: dict[str, Counter]

    @classmethod
    def of(cls, metrics: JobMetrics, task: str, queue: str) -> _Series:
        return cls(
            enqueued=metrics.enqueued.labels(task, queue),
            started=metrics.started.labels(task, queue),
            queue_wait=metrics.queue_wait.labels(task, queue),
            duration=metrics.duration.labels(task, queue),
            running=metrics.running.labels(queue),
            finished={},
        )
