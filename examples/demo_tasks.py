"""Tasks for the demo: some succeed, some need a retry, some fail for good."""

from __future__ import annotations

import asyncio
import os
import random

from conveyor import Context, Conveyor, Retry

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///demo.db"))


@app.task(queue="images")
async def resize_image(
    image_id: int, width: int = 640, ctx: Context = Context.INJECTED
) -> dict[str, int]:
    """Always works: a little I/O wait, some progress."""
    await asyncio.sleep(random.uniform(0.05, 0.15))
    await ctx.progress(0.5, "resized")
    await asyncio.sleep(random.uniform(0.05, 0.15))
    return {"image_id": image_id, "width": width}


@app.task(retries=3, backoff="exponential", backoff_base=0.2)
async def call_partner_api(order_id: int, ctx: Context = Context.INJECTED) -> str:
    """Flaky: the partner answers 503 on the first attempt of every third order."""
    if order_id % 3 == 0 and ctx.attempt == 1:
        raise Retry(delay=0.3, reason="partner answered 503")
    await asyncio.sleep(0.01)
    return f"order {order_id} confirmed on attempt {ctx.attempt}"


@app.task(retries=1, backoff="constant", backoff_base=0.2)
def import_legacy_csv(row: int) -> None:
    """Broken for good: a sync task (it runs in a thread) that always raises."""
    raise ValueError(f"row {row}: column 'price' is not a number")
