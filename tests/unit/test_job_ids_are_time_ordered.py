"""The ids conveyor makes sort in the order they were made, and stay unguessable.

An id is 32 lowercase hex digits: 12 of milliseconds, then a random tail. Ids made later sort
later as text (so store indexes grow at their end); the tail keeps any id from being worked
out from another, even one made in the same millisecond.
"""

from __future__ import annotations

import asyncio
import string
import time

from conveyor import Conveyor, Task, group

TIME = 12  # hex digits of milliseconds at the front of an id
TAIL_BITS = 80


def noop(n: int) -> int:
    return n


def made_ids(task: Task[[int], int], count: int) -> list[str]:
    return [task.s(i).record.id for i in range(count)]


async def test_ids_made_later_sort_later_across_milliseconds(app: Conveyor) -> None:
    task = app.task(noop)
    ids: list[str] = []
    for _ in range(20):
        ids.extend(made_ids(task, 3))
        await asyncio.sleep(0.002)  # the next ones land in a later millisecond

    assert all(len(i) == 32 and set(i) <= set(string.hexdigits.lower()) for i in ids)
    assert sorted(ids, key=lambda i: i[:TIME]) == ids  # in order of making, by time
    firsts = ids[::3]
    assert sorted(firsts) == firsts  # across milliseconds, in order as whole text too
    assert len({i[:TIME] for i in firsts}) == len(firsts)
    now = time.time() * 1000
    assert now - 60_000 < int(ids[-1][:TIME], 16) <= now + 1


async def test_a_burst_of_ids_is_unique(app: Conveyor) -> None:
    ids = made_ids(app.task(noop), 100_000)

    assert len(set(ids)) == len(ids)
    stamps = [i[:TIME] for i in ids]
    assert stamps == sorted(stamps)


async def test_the_tail_is_random_even_within_one_millisecond(app: Conveyor) -> None:
    ids = made_ids(app.task(noop), 20_000)
    tails = [int(i[TIME:], 16) for i in ids]
    same_millisecond = [
        (a, b) for a, b, x, y in zip(tails, tails[1:], ids, ids[1:], strict=False)
        if x[:TIME] == y[:TIME]
    ]  # fmt: skip

    assert len(same_millisecond) > 100
    # no counter: the next tail in the same millisecond is neither equal nor a step away
    assert all(abs(b - a) > 2**32 for a, b in same_millisecond)
    # every one of the tail's bits is set in about half the ids, so each is random
    for bit in range(TAIL_BITS):
        share = sum(tail >> bit & 1 for tail in tails) / len(tails)
        assert 0.45 < share < 0.55, f"bit {bit} of the tail is set in {share:.0%} of ids"


async def test_given_ids_are_kept_and_workflow_ids_are_time_ordered(app: Conveyor) -> None:
    task = app.task(noop)
    given = await task.options(job_id="welcome-42").enqueue(1)
    first = await group(task.s(1), task.s(2)).enqueue()
    await asyncio.sleep(0.002)
    second = await group(task.s(3)).enqueue()

    assert given.id == "welcome-42"
    assert first.id.startswith("wf-")
    assert second.id.startswith("wf-")
    assert first.id < second.id
