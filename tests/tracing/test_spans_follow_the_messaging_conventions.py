"""Span names, kinds and attributes, per the OpenTelemetry messaging conventions: `send
<queue>` (PRODUCER) per enqueued batch, `process <queue>` (CONSUMER) per attempt."""

from __future__ import annotations

from conveyor import Conveyor
from conveyor.middleware.tracing import TracingMiddleware

from .support import finished, in_memory, one, work_off


async def resize(image: str) -> str:
    return image.upper()


async def test_an_enqueue_and_its_run_are_described() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    task = app.task(queue="images")(resize)

    handle = await task.enqueue("cat.png")
    worker = await work_off(app)

    spans = finished(exporter)
    send, process = one(spans, kind="PRODUCER"), one(spans, kind="CONSUMER")
    assert send.name == "send images"
    assert send.attributes == {
        "messaging.system": "conveyor",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "images",
        "messaging.message.id": handle.id,
        "messaging.conveyor.task.name": task.name,
    }
    assert send.status == "UNSET"
    assert process.name == "process images"
    assert process.attributes == {
        "messaging.system": "conveyor",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "images",
        "messaging.message.id": handle.id,
        "messaging.client.id": worker.name,
        "messaging.conveyor.task.name": task.name,
        "messaging.conveyor.job.attempt": 1,
        "messaging.conveyor.job.outcome": "succeeded",
    }
    assert process.status == "UNSET"
    assert process.events == []
    assert process.parent_id == send.span_id
    assert process.links == [send.span_id]


async def test_a_bulk_enqueue_is_one_span_named_after_its_queue_if_it_has_one() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    images = app.task(queue="images")(resize)
    thumbs = app.task(queue="thumbs", name="thumbs")(resize)

    await app.enqueue_many(images.s(f"{n}.png") for n in range(3))
    await app.enqueue_many([images.s("a.png"), thumbs.s("b.png")])

    one_queue, two_queues = finished(exporter)
    assert one_queue.name == "send images"
    assert one_queue.kind == "PRODUCER"
    assert one_queue.attributes["messaging.batch.message_count"] == 3
    assert one_queue.attributes["messaging.destination.name"] == "images"
    assert "messaging.message.id" not in one_queue.attributes  # not one message: no id
    # no one destination: the conventions leave it out of the name
    assert two_queues.name == "send"
    assert two_queues.kind == "PRODUCER"
    assert two_queues.attributes["messaging.batch.message_count"] == 2
    assert "messaging.destination.name" not in two_queues.attributes
    assert "messaging.conveyor.task.name" not in two_queues.attributes


async def test_every_job_of_a_batch_carries_the_batchs_context() -> None:
    provider, exporter = in_memory()
    app = Conveyor("memory://", middleware=[TracingMiddleware(provider)])
    images = app.task(queue="images")(resize)

    await app.enqueue_many(images.s(f"{n}.png") for n in range(3))
    await work_off(app)

    spans = finished(exporter)
    send = one(spans, kind="PRODUCER")
    runs = [s for s in spans if s.kind == "CONSUMER"]
    assert len(runs) == 3
    assert {s.parent_id for s in runs} == {send.span_id}
    assert {s.trace_id for s in runs} == {send.trace_id}
