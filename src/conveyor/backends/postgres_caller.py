"""Running conveyor's SQL on a connection: the pool's, or the caller's own (connection=).

The caller may hand over a psycopg `AsyncConnection` or `Connection`, or a SQLAlchemy
`AsyncSession`, `Session`, `AsyncConnection` or `Connection` on the psycopg driver
(`postgresql+psycopg://`). Whatever it is, conveyor reaches the psycopg connection under
it and runs its statements there, inside the caller's transaction; it never commits or
rolls back. SQLAlchemy is only imported when the object comes from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

import psycopg
from psycopg.pq import TransactionStatus

from conveyor.errors import ConfigurationError

Row = tuple[Any, ...]

ACCEPTED = (
    "a psycopg AsyncConnection or Connection, or a SQLAlchemy AsyncSession, Session, "
    "AsyncConnection or Connection using the psycopg driver (postgresql+psycopg://)"
)


class Runner(Protocol):
    """Runs one statement and returns its rows (none for a statement without any)."""

    async def rows(self, query: bytes, params: Mapping[str, Any]) -> list[Row]: ...


class AsyncRunner:
    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def rows(
        self, query: bytes, params: Mapping[str, Any], *, prepare: bool | None = None
    ) -> list[Row]:
        cursor = await self.conn.execute(query, params, prepare=prepare)
        return list(await cursor.fetchall()) if cursor.description else []


class ThreadRunner:
    """A blocking connection's statements run in a thread, so the event loop never waits."""

    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    async def rows(self, query: bytes, params: Mapping[str, Any]) -> list[Row]:
        return await asyncio.to_thread(self._rows, query, params)

    def _rows(self, query: bytes, params: Mapping[str, Any]) -> list[Row]:
        cursor = self.conn.execute(query, params)
        return list(cursor.fetchall()) if cursor.description else []


async def caller_runner(connection: object) -> Runner:
    """A runner on the caller's connection; ConfigurationError when it cannot be used."""
    driver = await _driver_connection(connection)
    if isinstance(driver, psycopg.AsyncConnection):
        _check_in_transaction(driver.autocommit, driver.info.transaction_status)
        return AsyncRunner(driver)
    if isinstance(driver, psycopg.Connection):
        _check_in_transaction(driver.autocommit, driver.info.transaction_status)
        return ThreadRunner(driver)
    raise ConfigurationError(f"connection= takes {ACCEPTED}; got {type(connection).__name__}")


async def _driver_connection(connection: object) -> object:
    """The psycopg connection under a SQLAlchemy object, or `connection` itself."""
    if not type(connection).__module__.startswith("sqlalchemy"):
        return connection
    from sqlalchemy import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    from sqlalchemy.orm import Session

    if isinstance(connection, AsyncSession):
        connection = await connection.connection()  # joins (or begins) its transaction
    if isinstance(connection, AsyncConnection):
        raw = await connection.get_raw_connection()
        return _psycopg_driver(raw.driver_connection, connection)
    if isinstance(connection, Session):
        connection = await asyncio.to_thread(connection.connection)  # may connect: blocks
    if isinstance(connection, Connection):
        return _psycopg_driver(connection.connection.driver_connection, connection)
    return connection


def _psycopg_driver(driver: object, given: object) -> object:
    if isinstance(driver, psycopg.AsyncConnection | psycopg.Connection):
        return driver
    raise ConfigurationError(
        f"connection=: this SQLAlchemy {type(given).__name__} runs on the "
        f"{type(driver).__module__.split('.')[0]} driver; conveyor needs psycopg 3: "
        "create the engine with a postgresql+psycopg:// URL"
    )


def _check_in_transaction(autocommit: bool, status: TransactionStatus) -> None:
    if autocommit and status == TransactionStatus.IDLE:
        raise ConfigurationError(
            "connection= is in autocommit mode with no transaction open, so the job would "
            "be committed at once: open one first (async with conn.transaction(): ...)"
        )
