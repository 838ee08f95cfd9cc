"""Claims plan once per connection, and the cached plan stays good as the table grows.

A claim sends its statement with settings that make PostgreSQL keep one generic plan for it
(see postgres_sql.GENERIC_PLAN). These tests hold the two things that make it safe: the
settings end with the claim, and a plan made on an empty table reads the jobs table (and
the paused queues) only through their indexes, however full the table gets before the plan
is made again. Pausing a queue changes what the cached plan finds, never the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from conveyor.backends.postgres import PostgresBackend
from conveyor.backends.postgres_sql import Statements
from conveyor.job import JobRecord
from live_services import fresh_postgres

PARAMETER = re.compile(rb"%\((\w+)\)s")


def job(job_id: str, queue: str = "default") -> JobRecord:
    return JobRecord(id=job_id, task="tasks.work", queue=queue, payload=b"{}")


async def plan_counts(backend: PostgresBackend) -> tuple[int, int]:
    """The (generic, custom) plans made for the claim on the one pooled connection."""
    async with backend._connection() as conn:  # prepared statements are per session
        cursor = await conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%shares AS%picked AS%'"
        )
        ((generic, custom),) = await cursor.fetchall()
    return generic, custom


async def test_claims_reuse_one_plan_and_leave_the_session_as_it_was() -> None:
    with fresh_postgres(pool_size=1) as url:  # one connection: every claim runs on it
        backend = PostgresBackend(url)
        try:
            await backend.enqueue([job(f"j{i}") for i in range(10)])
            for _ in range(10):
                assert len(await backend.claim(["default"], 1, "w", 30.0)) == 1
            async with backend._connection() as conn:
                cursor = await conn.execute(
                    "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')"
                )
                assert await cursor.fetchone() == ("auto", "on")
            generic, custom = await plan_counts(backend)
            assert generic > 0
            assert custom == 0
        finally:
            await backend.close()


async def test_a_pause_and_a_resume_keep_the_claims_cached_plan() -> None:
    with fresh_postgres(pool_size=1) as url:
        backend = PostgresBackend(url)
        try:
            await backend.enqueue([job(f"d{i}") for i in range(8)])
            await backend.enqueue([job(f"h{i}", queue="held") for i in range(4)])
            await backend.pause_queue("held")
            taken = [
                r.id for _ in range(8) for r in await backend.claim(["held", "default"], 1, "w", 30)
            ]
            await backend.resume_queue("held")
            resumed = [r.id for r in await backend.claim(["held", "default"], 10, "w", 30)]
            generic, custom = await plan_counts(backend)
        finally:
            await backend.close()

    assert taken == [f"d{i}" for i in range(8)]
    assert resumed == [f"h{i}" for i in range(4)]
    assert generic > 0
    assert custom == 0


async def test_a_claim_plan_made_on_an_empty_table_reads_it_only_through_indexes(
    backend: PostgresBackend, conninfo: str, schema: str
) -> None:
    statements = Statements(schema)
    names = list(dict.fromkeys(m.decode() for m in PARAMETER.findall(statements.claim)))
    numbered = PARAMETER.sub(lambda m: b"$%d" % (names.index(m[1].decode()) + 1), statements.claim)
    params: dict[str, Any] = {
        "queues": ["default"], "weights": [1], "probed": 100, "limit": 100, "depth": 100,
        "worker": "w", "token": "t",
        "lease": 30.0, "events": statements.events_channel,
    }  # fmt: skip
    execute = sql.SQL("EXECUTE claim({})").format(
        sql.SQL(", ").join(sql.Literal(params[name]) for name in names)
    )
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(b"PREPARE claim AS " + numbered)
        async with conn.transaction():  # plans it, on the empty tables
            await conn.execute(statements.generic_plan)
            await conn.execute(execute)
        await backend.enqueue([job(f"j{i}") for i in range(5000)])
        for i in range(200):
            await backend.pause_queue(f"paused-{i}")
        _assert_reads_by_index(await _plan(conn, statements, execute))
        await conn.execute(f"ANALYZE {statements.jobs}".encode())  # the next plan sees it full
        await conn.execute(f'ANALYZE "{schema}".conveyor_paused'.encode())
        _assert_reads_by_index(await _plan(conn, statements, execute))


async def _plan(
    conn: psycopg.AsyncConnection[Any], statements: Statements, execute: sql.Composed
) -> dict[str, Any]:
    async with conn.transaction():
        await conn.execute(statements.generic_plan)
        cursor = await conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(execute))
        row = await cursor.fetchone()
    assert row is not None
    return dict(row[0][0]["Plan"])  # EXPLAIN's JSON, as psycopg reads it


def _assert_reads_by_index(plan: dict[str, Any]) -> None:
    scans = [node for node in _nodes(plan) if node["Node Type"].endswith("Scan")]
    for table in ("conveyor_jobs", "conveyor_paused"):
        reads = [node for node in scans if node.get("Relation Name") == table]
        assert reads, table
        for node in reads:  # a seq scan, or an index read end to end, has no condition
            assert "Index Cond" in node or "Recheck Cond" in node, (table, node["Node Type"])


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)
