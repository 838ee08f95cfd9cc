"""A producer for the fault tests: enqueue jobs, printing each id once its enqueue returned.

    python -m faults.producer serial|concurrent COUNT

`serial` enqueues one job at a time; `concurrent` runs 20 coroutines that do. A test
SIGKILLs it mid-way: every id printed (one flushed line each) was acknowledged.
"""

from __future__ import annotations

import asyncio
import sys

from faults.jobsapp import jobs

CONCURRENT_PRODUCERS = 20


async def enqueue_one() -> None:
    handle = await jobs.nap.enqueue(0)
    sys.stdout.write(f"{handle.id}\n")
    sys.stdout.flush()


async def produce(mode: str, count: int) -> None:
    async with jobs.app:
        if mode == "serial":
            for _ in range(count):
                await enqueue_one()
        elif mode == "concurrent":

            async def producer(share: int) -> None:
                for _ in range(share):
                    await enqueue_one()

            share = count // CONCURRENT_PRODUCERS
            await asyncio.gather(*(producer(share) for _ in range(CONCURRENT_PRODUCERS)))
        else:
            raise SystemExit(f"unknown mode {mode!r}: serial or concurrent")


if __name__ == "__main__":
    asyncio.run(produce(sys.argv[1], int(sys.argv[2])))
