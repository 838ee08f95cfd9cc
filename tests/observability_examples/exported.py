"""What conveyor really exposes: the sample names and label names of a scrape of
`metrics_app` after a job ran, read with prometheus-client's own parser."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from conveyor import Conveyor, Worker
from conveyor.metrics import metrics_app
from conveyor.middleware.prometheus import PrometheusMiddleware

from .promql import Grouping, Selector

# the names the issue made public API, each of which the dashboard shows
PUBLIC = frozenset(
    {
        "conveyor_jobs_enqueued_total",
        "conveyor_jobs_started_total",
        "conveyor_jobs_finished_total",
        "conveyor_job_duration_seconds",
        "conveyor_job_queue_wait_seconds",
        "conveyor_jobs_running",
        "conveyor_queue_jobs",
        "conveyor_queue_oldest_age_seconds",
    }
)
# labels Prometheus adds to every series it scrapes
TARGET_LABELS = frozenset({"job", "instance"})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

Exposed = dict[str, frozenset[str]]  # sample name -> its label names


async def ship() -> None:
    pass


async def scrape() -> Exposed:
    """Every sample name and its label names, from a worker's registry once a job ran."""
    app = Conveyor("memory://", middleware=[PrometheusMiddleware(CollectorRegistry())])
    task = app.task(name="shop.ship")(ship)
    async with app:
        await task.enqueue()
        async with asyncio.timeout(10):
            await Worker(app, burst=True, idle_poll=0.05).run()
        transport = httpx.ASGITransport(app=metrics_app(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            response = await client.get("/")
    response.raise_for_status()
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in samples.items()}


def family_of(sample_name: str) -> str:
    """conveyor_job_duration_seconds_bucket -> conveyor_job_duration_seconds."""
    for suffix in HISTOGRAM_SUFFIXES:
        if sample_name.endswith(suffix):
            return sample_name.removesuffix(suffix)
    return sample_name


def problems(selected: list[Selector], grouped: list[Grouping], exposed: Exposed) -> list[str]:
    """What in an expression reads a series or a label that conveyor does not expose."""
    found = []
    for selector in selected:
        labels = labels_of(selector.metric, exposed)
        if labels is None:
            found.append(f"{selector.metric} is not a metric conveyor exposes")
        elif not selector.labels <= labels:
            found.append(f"{selector.metric} has no label {sorted(selector.labels - labels)}")
    for grouping in grouped:
        available = set(TARGET_LABELS)
        for selector in grouping.selectors:
            available |= labels_of(selector.metric, exposed) or set()
        if not grouping.labels <= available:
            found.append(f"grouped by {sorted(grouping.labels - available)}, which it lacks")
    return found


def labels_of(metric: str, exposed: Exposed) -> frozenset[str] | None:
    """The label names `metric`'s series carry once scraped; None when it is not exposed."""
    if metric == "up":  # Prometheus' own, one per scrape target
        return TARGET_LABELS
    if metric not in exposed:
        return None
    return exposed[metric] | TARGET_LABELS
