"""`python -m observability_examples.pay_for_an_order`: one request to the tracing example's
API, served in this process through its lifespan; its spans go to stdout, as the example
prints them."""

from __future__ import annotations

import asyncio

import httpx
from examples.observability.tracing import api


async def pay() -> None:
    transport = httpx.ASGITransport(app=api)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://shop") as client,
    ):
        response = await client.post("/orders/7/pay")
        response.raise_for_status()


if __name__ == "__main__":
    asyncio.run(pay())
