"""`make demo`'s program, run as a new user would: real API, worker and dashboard processes,
then curl."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120.0  # seconds for the demo to start, drive its traffic and see every job end


async def read_until(stream: asyncio.StreamReader, pattern: str, seen: list[str]) -> re.Match[str]:
    while True:
        line = (await stream.readline()).decode()
        assert line, "the demo ended early:\n" + "".join(seen)
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match


async def test_the_demo_serves_jobs_that_end_where_it_says(tmp_path: Path) -> None:
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "examples/demo.py", "--port", "0", "--dashboard-port", "0",
        "--serve-for", "300",
        cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(DEADLINE):
            dashboard = (await read_until(demo.stdout, r"Dashboard on (http://\S+/):", seen))[1]
            base = (await read_until(demo.stdout, r"API keeps serving on (http://\S+)", seen))[1]
            report = (await read_until(demo.stdout, r"/jobs/(\w+)\s+# a finished report", seen))[1]
            dead = (await read_until(demo.stdout, r"/jobs/(\w+)\s+# a dead-lettered", seen))[1]
            worker_metrics = (await read_until(demo.stdout, r"curl (\S+)\s+# the worker's", seen))[
                1
            ]
        output = "".join(seen)
        assert "a second signup of user1@example.com answered 409" in output
        assert re.search(r"send_welcome_email\W+40\W+0\W+10", output), output

        async with httpx.AsyncClient(base_url=base) as client:
            finished = (await client.get(f"/jobs/{report}")).json()
            failed = (await client.get(f"/jobs/{dead}")).json()
            signup = await client.post("/signup", json={"email": "newcomer@example.com"})
            job_id = signup.json()["job_id"]
            deadline = time.monotonic() + 30
            while (status := (await client.get(f"/jobs/{job_id}")).json())["state"] != "succeeded":
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.1)

        assert finished["state"] == "succeeded"
        assert finished["progress"] == 1.0
        assert finished["result"]["pages"] == 5
        assert failed["state"] == "failed"
        assert failed["attempts"] == 4
        assert "503" in failed["error"]["message"]
        assert signup.status_code == 202
        assert status["result"] == {"to": "newcomer@example.com", "delivered_on_attempt": 1}

        # the metrics agree with the summary: 41 welcome emails enqueued, each sent once (the
        # worker counts an outcome just after writing it: the last may still be on its way)
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 10
            while (sent := _sent(await client.get(worker_metrics))) < 41:
                assert time.monotonic() < deadline, sent
                await asyncio.sleep(0.1)
            api_scraped = (await client.get(f"{base}/metrics/")).text
        assert sent == 41
        enqueued = _samples(api_scraped, "conveyor_jobs_enqueued_total")
        assert sum(s.value for s in enqueued if s.labels["task"].endswith("welcome_email")) == 41

        # the dashboard shows the same store: the queues, the dead-lettered webhook, the cron
        async with httpx.AsyncClient(base_url=dashboard) as client:
            overview = await client.get("/")
            failed_jobs = await client.get("/jobs", params={"state": "failed"})
            schedules = await client.get("/schedules")
        assert overview.status_code == 200
        assert ">reports</a>" in overview.text
        assert "worker online" in overview.text
        assert f'href="/jobs/{dead}"' in failed_jobs.text
        assert "tidy-reports" in schedules.text

        demo.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops its API, worker and dashboard
        async with asyncio.timeout(60):
            rest = (await demo.stdout.read()).decode()
            assert await demo.wait() == 0
        assert "API, worker and dashboard stopped" in rest
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGTERM)  # stops its children gracefully
            await demo.wait()


def _sent(scraped: httpx.Response) -> float:
    finished = _samples(scraped.text, "conveyor_jobs_finished_total")
    emails = [s for s in finished if s.labels["task"].endswith("send_welcome_email")]
    return sum(s.value for s in emails if s.labels["outcome"] == "succeeded")


def _samples(exposition: str, name: str) -> list[Sample]:
    return [
        sample
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    ]
