"""The deadlines of a store's calls (`conveyor.backends.deadlines`): a call past its own
raises TimeoutError; any other cancellation stays a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from conveyor.backends.deadlines import Deadlines


async def test_a_call_past_its_deadline_raises_timeout_error() -> None:
    deadlines = Deadlines(0.2)
    with pytest.raises(TimeoutError), deadlines.bound():
        await asyncio.sleep(30)
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0, "nothing is left to cancel the caller"


async def test_a_call_within_its_deadline_returns_its_result() -> None:
    deadlines = Deadlines(5)

    async def answer() -> str:
        await asyncio.sleep(0.01)
        return "answer"

    with deadlines.bound():
        assert await answer() == "answer"
    await asyncio.sleep(0.05)  # a cancellation left pending would land here


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    deadlines = Deadlines(30)

    async def call() -> None:
        with deadlines.bound():
            await asyncio.sleep(30)

    task = asyncio.create_task(call())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_call_inside_another_keeps_the_outer_deadline() -> None:
    deadlines = Deadlines(0.2)

    async def nested() -> None:
        with deadlines.bound():
            await asyncio.sleep(0.15)
            with deadlines.bound():  # a fresh deadline would let this one sleep on
                await asyncio.sleep(0.15)

    with pytest.raises(TimeoutError):
        await nested()


async def test_calls_in_flight_on_other_loops_keep_their_own_deadlines() -> None:
    deadlines = Deadlines(0.2)

    async def slow() -> None:
        with deadlines.bound():
            await asyncio.sleep(30)

    def in_a_thread() -> BaseException | None:
        try:
            asyncio.run(slow())
        except BaseException as exc:  # handed back to the test
            return exc
        return None

    mine = asyncio.create_task(slow())
    theirs = await asyncio.to_thread(in_a_thread)
    assert isinstance(theirs, TimeoutError)
    with pytest.raises(TimeoutError):
        await mine
