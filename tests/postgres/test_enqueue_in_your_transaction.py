"""`connection=`: a job enqueued inside the caller's transaction exists if and only if it commits.

Each test writes an order row and enqueues its job in one transaction (the outbox pattern)
and then checks both, from other connections: after a commit, both are there and a worker
can claim the job; after a rollback, neither is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from conveyor import Conveyor, JobNotFound, JobState, Task
from conveyor.errors import ConfigurationError
from live_services import POSTGRES_URL

LIMIT = 10.0


async def send_receipt(order: int) -> int:
    return order


@pytest.fixture
def orders(conninfo: str, schema: str) -> str:
    """The name of an empty orders table next to conveyor's."""
    table = f'"{schema}".orders'
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY)".encode())
    return table


@pytest.fixture
async def app(pg_url: str) -> AsyncIterator[Conveyor]:
    conveyor = Conveyor(pg_url)
    try:
        yield conveyor
    finally:
        await conveyor.close()


def receipts(app: Conveyor) -> Task[..., Any]:
    return app.task(name="shop.send_receipt")(send_receipt)


def sqlalchemy_url() -> str:
    """The test database for SQLAlchemy's psycopg 3 dialect (sync and async alike)."""
    return "postgresql+psycopg://" + POSTGRES_URL.split("://", 1)[1]


async def order_ids(conninfo: str, table: str) -> list[int]:
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        cursor = await conn.execute(f"SELECT id FROM {table} ORDER BY id".encode())
        return [row[0] for row in await cursor.fetchall()]


async def claimed_ids(app: Conveyor) -> list[str]:
    backend = await app.connected()
    return [r.id for r in await backend.claim(["default"], 10, "worker-1", 30.0)]


async def test_psycopg_commit_stores_the_job_with_the_order(
    app: Conveyor, conninfo: str, orders: str
) -> None:
    task = receipts(app)
    backend = await app.connected()
    waiting = asyncio.create_task(backend.wait_for_work(["default"], timeout=60))

    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        await conn.execute(f"INSERT INTO {orders} (id) VALUES (7)".encode())
        handle = await task.options(connection=conn).enqueue(7)
        await asyncio.sleep(0.2)  # time enough for a wrongly early notification to arrive
        assert not waiting.done(), "an idle worker was woken before the commit"
        with pytest.raises(JobNotFound):
            await handle.status()
        assert await claimed_ids(app) == []
        await conn.commit()

    await asyncio.wait_for(waiting, LIMIT)  # the commit's notification wakes idle workers
    assert await order_ids(conninfo, orders) == [7]
    assert await handle.status() is JobState.QUEUED
    assert handle.created
    assert await claimed_ids(app) == [handle.id]


async def test_psycopg_rollback_leaves_neither_order_nor_job(
    app: Conveyor, conninfo: str, orders: str
) -> None:
    task = receipts(app)

    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        await conn.execute(f"INSERT INTO {orders} (id) VALUES (7)".encode())
        handle = await task.options(connection=conn).enqueue(7)
        await conn.rollback()

    assert await order_ids(conninfo, orders) == []
    with pytest.raises(JobNotFound):
        await handle.status()
    assert await claimed_ids(app) == []


async def test_a_transaction_block_on_an_autocommit_connection_decides_too(
    app: Conveyor, conninfo: str, orders: str
) -> None:
    task = receipts(app)

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        async with conn.transaction():
            kept = await task.options(connection=conn).enqueue(1)
        async with conn.transaction(force_rollback=True):
            dropped = await task.options(connection=conn).enqueue(2)

    assert await kept.status() is JobState.QUEUED
    with pytest.raises(JobNotFound):
        await dropped.status()


async def test_enqueue_many_stores_every_job_in_the_transaction(
    app: Conveyor, conninfo: str
) -> None:
    task = receipts(app)

    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        handles = await app.enqueue_many([task.s(i) for i in range(5)], connection=conn)
        assert await claimed_ids(app) == []
        await conn.commit()

    assert sorted(await claimed_ids(app)) == sorted(h.id for h in handles)


async def test_a_blocking_psycopg_connection_works_from_sync_code(
    app: Conveyor, conninfo: str, orders: str
) -> None:
    task = receipts(app)

    def plain_code() -> tuple[str, str]:  # a thread with no event loop, as in Flask or Django
        with psycopg.connect(conninfo) as conn:
            conn.execute(f"INSERT INTO {orders} (id) VALUES (1)".encode())
            committed = task.options(connection=conn).enqueue_sync(1)
            conn.commit()
            conn.execute(f"INSERT INTO {orders} (id) VALUES (2)".encode())
            rolled_back = task.options(connection=conn).enqueue_sync(2)
            conn.rollback()
        return committed.id, rolled_back.id

    committed, rolled_back = await asyncio.to_thread(plain_code)

    assert await order_ids(conninfo, orders) == [1]
    assert await app.job(committed).status() is JobState.QUEUED
    with pytest.raises(JobNotFound):
        await app.job(rolled_back).status()


async def test_a_sqlalchemy_async_session_commit_and_rollback(
    app: Conveyor, conninfo: str, orders: str
) -> None:
    task = receipts(app)
    engine = create_async_engine(sqlalchemy_url())
    try:
        async with AsyncSession(engine) as session:
            await session.execute(sqlalchemy.text(f"INSERT INTO {orders} (id) VALUES (1)"))
            committed = await task.options(connection=session).enqueue(1)
            await session.commit()
        async with AsyncSession(engine) as session:
            await session.execute(sqlalchemy.text(f"INSERT INTO {orders} (id) VALUES (2)"))
            rolled_back = await task.options(connection=session).enqueue(2)
            await session.rollback()
        async with engine.begin() as connection:  # an AsyncConnection: commits at the end
            on_connection = await task.options(connection=connection).enqueue(3)
    finally:
        await engine.dispose()

    assert await order_ids(conninfo, orders) == [1]
    assert await committed.status() is JobState.QUEUED
    assert await on_connection.status() is JobState.QUEUED
    with pytest.raises(JobNotFound):
        await rolled_back.status()


async def test_a_sqlalchemy_session_commit_and_rollback(
    app: Conveyor, conninfo: str, orders: str
) -> None:
    task = receipts(app)

    def plain_code() -> tuple[str, str]:
        engine = sqlalchemy.create_engine(sqlalchemy_url())
        try:
            with Session(engine) as session:
                session.execute(sqlalchemy.text(f"INSERT INTO {orders} (id) VALUES (1)"))
                committed = task.options(connection=session).enqueue_sync(1)
                session.commit()
            with Session(engine) as session:
                session.execute(sqlalchemy.text(f"INSERT INTO {orders} (id) VALUES (2)"))
                rolled_back = task.options(connection=session).enqueue_sync(2)
                session.rollback()
        finally:
            engine.dispose()
        return committed.id, rolled_back.id

    committed, rolled_back = await asyncio.to_thread(plain_code)

    assert await order_ids(conninfo, orders) == [1]
    assert await app.job(committed).status() is JobState.QUEUED
    with pytest.raises(JobNotFound):
        await app.job(rolled_back).status()


async def test_other_backends_refuse_connection_at_the_call_site(
    tmp_path: Any, conninfo: str
) -> None:
    async with Conveyor(f"sqlite:///{tmp_path}/jobs.db") as app:
        task = receipts(app)
        async with await psycopg.AsyncConnection.connect(conninfo) as conn:
            with pytest.raises(ConfigurationError, match="needs the postgresql backend"):
                await task.options(connection=conn).enqueue(1)
        assert await (await app.connected()).counts() == {}


async def test_a_connection_that_would_commit_at_once_is_refused(
    app: Conveyor, conninfo: str
) -> None:
    task = receipts(app)

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        with pytest.raises(ConfigurationError, match="autocommit"):
            await task.options(connection=conn).enqueue(1)

    assert await (await app.connected()).counts() == {}


async def test_what_is_not_a_connection_is_refused(app: Conveyor) -> None:
    task = receipts(app)

    with pytest.raises(ConfigurationError, match="psycopg AsyncConnection"):
        await task.options(connection=object()).enqueue(1)
    with pytest.raises(ConfigurationError, match="connection must be"):
        task.options(connection=None)
    assert await (await app.connected()).counts() == {}


async def test_a_signature_cannot_carry_a_connection(app: Conveyor, conninfo: str) -> None:
    task = receipts(app)

    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        with pytest.raises(ConfigurationError, match="enqueue_many"):
            task.options(connection=conn).s(1)
