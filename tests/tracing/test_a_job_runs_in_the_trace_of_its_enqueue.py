"""While a job runs, its CONSUMER span is current: the task's own spans (in a thread too)
and the jobs it enqueues are its children, and a workflow's steps share one trace."""

from __future__ import annotations

import itertools
from typing import Any

from conveyor import Conveyor, Task, chain
from conveyor.middleware.tracing import TracingMiddleware

from .support import ancestors, consumers, finished, in_memory, one, work_off


async def append(seen: list[str], letter: str) -> list[str]:
    return [*seen, letter]


async def test_the_tasks_own_spans_are_children_of_its_run() -> None:
    provider, exporter = in_memory()
    tracer = provider.get_tracer("tests")  # the test's own: the global one is set only once
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])

    async def add_traced(seen: list[str], letter: str) -> list[str]:
        with tracer.start_as_current_span(f"append {letter}"):
            return [*seen, letter]

    def shout_in_a_thread(word: str) -> str:
        with tracer.start_as_current_span("shout"):
            return word.upper()

    add: Task[..., Any] = app.task(name="add_traced")(add_traced)
    shout: Task[..., Any] = app.task(name="shout")(shout_in_a_thread)

    await add.enqueue([], "a")
    await shout.enqueue("hey")
    await work_off(app)

    spans = finished(exporter)
    added, shouted = consumers(spans)
    assert one(spans, name="append a").parent_id == added.span_id
    assert one(spans, name="shout").parent_id == shouted.span_id


async def test_a_job_enqueued_by_a_job_is_a_descendant_of_its_run() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    add = app.task(append)

    async def fan_out() -> None:
        await add.enqueue([], "b")

    start: Task[..., Any] = app.task(name="fan_out")(fan_out)
    await start.enqueue()
    await work_off(app)

    spans = finished(exporter)
    outer, inner = consumers(spans)
    assert outer in ancestors(inner, spans)
    assert ancestors(inner, spans)[0].kind == "PRODUCER"  # the enqueue, inside the run


async def test_a_chains_steps_share_one_trace_each_below_the_step_before() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    add = app.task(append)

    await chain(add.s([], "a"), add.step("b"), add.step("c")).enqueue()
    await work_off(app)

    spans = finished(exporter)
    steps = consumers(spans)
    assert len(steps) == 3
    assert len({s.trace_id for s in spans}) == 1
    for before, after in itertools.pairwise(steps):
        assert before in ancestors(after, spans)
    # the first step's parent is the workflow's enqueue, the root of the trace
    first_send = ancestors(steps[0], spans)
    assert [s.kind for s in first_send] == ["PRODUCER"]
