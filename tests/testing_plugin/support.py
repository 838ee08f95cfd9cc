"""A little project of a user's, written into pytester's folder: an app, and pytest set up
to test it with conveyor's plugin."""

from __future__ import annotations

import textwrap

import pytest

SHOP = '''
import asyncio

from conveyor import Context, Conveyor, Retry, chain, group
from conveyor.middleware import Middleware

class Stamp(Middleware):
    """Marks each job as it is stored, and counts the attempts it wraps."""

    executed: list[str] = []

    async def enqueue(self, jobs, call_next):
        for job in jobs:
            job.headers["stamped"] = "yes"
        return await call_next()

    async def execute(self, job, call_next):
        Stamp.executed.append(job.task)
        await call_next()

app = Conveyor("sqlite:///the-real-store-is-never-used.db", middleware=[Stamp()])

@app.task
async def add(a: int, b: int = 1) -> int:
    return a + b

@app.task
def total(numbers: list[int]) -> int:
    return sum(numbers)

@app.task(retries=3, backoff="constant", backoff_base=60)
async def flaky(name: str, ctx: Context = Context.INJECTED) -> str:
    if ctx.attempt < 3:
        raise RuntimeError(f"attempt {ctx.attempt} failed")
    return f"{name} on attempt {ctx.attempt}"

@app.task(retries=0, timeout=0.2)
async def stuck() -> None:
    await asyncio.sleep(30)

@app.task(retries=1)
async def doomed() -> None:
    raise ValueError("never works")

@app.task
async def fan_out(n: int) -> int:
    await add.enqueue(n, b=100)  # a job that enqueues another
    return n

@app.task
async def remind(email: str) -> None: ...

def place_order(email: str) -> str:
    """Code under test: sync, as in a view."""
    remind.options(delay=3600).enqueue_sync(email)
    return add.enqueue_sync(2, b=3).id
'''

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
conveyor_app = shop:app
"""


def project(pytester: pytest.Pytester, tests: str, *, ini: str = INI) -> None:
    """shop.py, the ini file, and one test module holding `tests`."""
    pytester.makepyfile(shop=SHOP)
    pytester.makeini(ini)
    pytester.makepyfile(test_shop=textwrap.dedent(tests))
