"""The outcome charts' y axis is as wide as its longest label: a minute of 120,000 jobs is
labelled in full, not cut at the chart's left edge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .browser_support import CHROMIUM, OPERATOR, Fleet, fleet, playwright_or_skip

BUSY_MINUTE = 120_000
MINUTES = list(range(1_700_000_000, 1_700_003_600, 60))
COUNTS = [BUSY_MINUTE if i % 7 == 0 else BUSY_MINUTE // 3 for i in range(len(MINUTES))]


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Fleet]:
    async with fleet(tmp_path, f"sqlite:///{tmp_path}/jobs.db") as started:
        await started.start_dashboard()
        yield started


async def busy_hour(route: Any) -> None:
    """The hour's chart data, as the dashboard would serve it on a busy store."""
    zeros = [0] * len(MINUTES)
    body = {"t": MINUTES, "succeeded": COUNTS, "failed": zeros, "retried": zeros,
            "cancelled": zeros}  # fmt: skip
    await route.fulfill(content_type="application/json", body=json.dumps(body))


# the opaque pixels in the canvas' first two columns: a label drawn past the left edge
EDGE_INK = """canvas => {
  const pixels = canvas.getContext("2d").getImageData(0, 0, 2, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) ink++;
  return ink;
}"""


async def test_a_busy_minute_is_labelled_in_full(running: Fleet) -> None:
    async_playwright = playwright_or_skip()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = await browser.new_context(
                http_credentials={"username": OPERATOR[0], "password": OPERATOR[1]},
                viewport={"width": 1280, "height": 900},
            )
            page = await context.new_page()
            await page.route("**/api/outcomes*", busy_hour)
            await page.goto(running.dashboard)
            chart = page.locator("[data-chart*=hour]")
            await page.wait_for_function(
                "([el, said]) => (el.getAttribute('aria-label') || '').includes(said)",
                arg=[await chart.element_handle(), f"{sum(COUNTS)} succeeded"],
            )
            canvas = chart.locator("canvas")
            assert await canvas.evaluate(EDGE_INK) == 0, "a y label is cut at the left edge"
        finally:
            await browser.close()
