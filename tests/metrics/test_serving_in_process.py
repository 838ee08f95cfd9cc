"""The exposition inside one process: mounted in a FastAPI app, shared registries, and a
scrape that does not wait long for a busy event loop."""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.

import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from conveyor import Conveyor, metrics
from conveyor.metrics import metrics_app, metrics_server
from conveyor.middleware.prometheus import PrometheusMiddleware

from .support import Scrape, free_port
from .tasks import Tasks


async def test_a_fastapi_app_serves_the_jobs_it_enqueued(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    conveyor = Conveyor(
        f"sqlite:///{tmp_path}/jobs.db", middleware=[PrometheusMiddleware(registry)]
    )
    tasks = Tasks(conveyor)
    api = FastAPI()
    api.mount("/metrics", metrics_app(conveyor))

    @api.post("/signups/{name}")
    async def sign_up(name: str) -> dict[str, str]:
        job = await tasks.ok.options(job_id=f"welcome-{name}").enqueue()
        return {"job": job.id}

    transport = httpx.ASGITransport(app=api)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            for name in ("ada", "bob", "ada"):  # ada's second welcome is the same job
                (await client.post(f"/signups/{name}")).raise_for_status()
            response = await client.get("/metrics/")
    finally:
        await conveyor.close()

    assert response.status_code == 200
    scraped = Scrape.parse(response.text)
    assert scraped.by("conveyor_jobs_enqueued_total", "task") == {"metrics.ok": 2}
    assert scraped.value("conveyor_queue_jobs", queue="default", state="queued") == 2
    # the app's own middleware and registry were used: none was added
    assert [type(m) for m in conveyor.middleware].count(PrometheusMiddleware) == 1


def test_middleware_on_one_registry_share_one_set_of_metrics() -> None:
    registry = CollectorRegistry()

    assert PrometheusMiddleware(registry).metrics is PrometheusMiddleware(registry).metrics
    assert PrometheusMiddleware().metrics is PrometheusMiddleware().metrics  # the default one
    assert PrometheusMiddleware(CollectorRegistry()).metrics is not (
        PrometheusMiddleware(registry).metrics
    )


async def test_a_scrape_waits_for_a_busy_event_loop_only_briefly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "SAMPLE_TIMEOUT", 0.2)
    conveyor = Conveyor(f"sqlite:///{tmp_path}/jobs.db")
    Tasks(conveyor)
    port, answers = free_port(), list[httpx.Response]()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with metrics_server(conveyor, "127.0.0.1", port, sample_every=0):
            scraper = threading.Thread(target=lambda: answers.append(httpx.get(url, timeout=10)))
            scraper.start()
            time.sleep(2.5)  # noqa: ASYNC251 - holds this event loop, as a blocking task would
            answered_meanwhile = not scraper.is_alive()
            scraper.join()
            async with httpx.AsyncClient() as client:
                fresh = await client.get(url)
    finally:
        await conveyor.close()

    assert answered_meanwhile
    assert answers[0].status_code == 200
    assert "conveyor_jobs_started_total" in answers[0].text
    assert 'conveyor_queue_jobs{queue="default",state="queued"} 0.0' in fresh.text
    # the app had no Prometheus middleware: serving added one
    assert [type(m) for m in conveyor.middleware].count(PrometheusMiddleware) == 1
