"""A producer for the fault tests: enqueue jobs, printing each id once its enqueue returned.

    python -m faults.producer serial|concurrent|retrying COUNT

`serial` enqueues one job at a time; `concurrent` runs 20 coroutines that do. A test
SIGKILLs it mid-way: every id printed (one flushed line each) was acknowledged.

`retrying` enqueues one job at a time under ids of its own, and outlives an outage of the
backend: an enqueue that raises `BackendUnavailable` is retried with the same id (so one
whose write landed although the caller saw an error still makes one job) until it is
acknowledged. Each failed try writes a "retry" line to stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys

from conveyor import BackendUnavailable
from faults.jobsapp import jobs

CONCURRENT_PRODUCERS = 20
RETRY_PAUSE = 0.05


def acknowledge(job_id: str) -> None:
    sys.stdout.write(f"{job_id}\n")
    sys.stdout.flush()


async def enqueue_one() -> None:
    handle = await jobs.nap.enqueue(0)
    acknowledge(handle.id)


async def enqueue_until_acknowledged(job_id: str) -> None:
    while True:
        try:
            await jobs.nap.options(job_id=job_id).enqueue(0)
        except BackendUnavailable as exc:
            sys.stderr.write(f"retry {job_id}: {exc}\n")
            sys.stderr.flush()
            await asyncio.sleep(RETRY_PAUSE)
            continue
        acknowledge(job_id)
        return


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
        elif mode == "retrying":
            for number in range(count):
                await enqueue_until_acknowledged(f"produced-{os.getpid()}-{number}")
        else:
            raise SystemExit(f"unknown mode {mode!r}: serial, concurrent or retrying")


if __name__ == "__main__":
    asyncio.run(produce(sys.argv[1], int(sys.argv[2])))
