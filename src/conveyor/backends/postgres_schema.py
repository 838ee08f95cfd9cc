"""The PostgreSQL schema and its migrations, versioned in a `conveyor_migrations` table.

Everything lives in one schema (the URL's `?schema=`, default `public`): the jobs table,
its indexes, the rate buckets and the table of applied migrations. `migrate` is idempotent
and safe to run from several processes at once: they queue on an advisory lock taken for
that schema, and each migration is applied in the same transaction that records it.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import psycopg.errors

from conveyor.errors import ConfigurationError

SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")

# Each entry upgrades the schema from the version before it; never edit a released one.
# `{schema}` is the quoted schema name.
MIGRATIONS: list[list[str]] = [
    [
        """
        CREATE TABLE {schema}.conveyor_jobs (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            task text NOT NULL,
            queue text NOT NULL,
            state text NOT NULL CHECK (state IN
                ('scheduled', 'queued', 'active', 'succeeded', 'failed', 'cancelled')),
            priority bigint NOT NULL DEFAULT 0,
            payload bytea NOT NULL,
            headers jsonb,
            attempts integer NOT NULL DEFAULT 0,
            max_attempts integer NOT NULL DEFAULT 1,
            recoveries integer NOT NULL DEFAULT 0,
            timeout double precision,
            result_ttl double precision,
            enqueued_at timestamptz NOT NULL,
            due_at timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            lease_token text,
            lease_expires_at timestamptz,
            worker text,
            result bytea,
            error jsonb,
            progress double precision,
            progress_message text,
            checkpoint bytea,
            cancel_requested boolean NOT NULL DEFAULT false,
            expires_at timestamptz
        )
        -- rows change state several times in their short life: vacuum them early, and
        -- leave room in each page so progress updates can stay on it (HOT updates)
        WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02,
              autovacuum_analyze_scale_factor = 0.02)
        """,
        # claims walk this index in priority, then due-time order; finished jobs are not in
        # it, so a million of them do not slow a claim down
        """
        CREATE INDEX conveyor_jobs_pending ON {schema}.conveyor_jobs
            (queue, priority DESC, due_at, seq) WHERE state IN ('queued', 'scheduled')
        """,
        # the next due time of a queue, for an idle worker's wait
        """
        CREATE INDEX conveyor_jobs_scheduled ON {schema}.conveyor_jobs (queue, due_at)
            WHERE state = 'scheduled'
        """,
        """
        CREATE INDEX conveyor_jobs_leases ON {schema}.conveyor_jobs (lease_expires_at)
            WHERE state = 'active'
        """,
        """
        CREATE INDEX conveyor_jobs_expiry ON {schema}.conveyor_jobs (expires_at)
            WHERE expires_at IS NOT NULL
        """,
        "CREATE INDEX conveyor_jobs_state ON {schema}.conveyor_jobs (state, queue)",
    ],
    [
        """
        ALTER TABLE {schema}.conveyor_jobs ADD COLUMN unique_key text,
            ADD COLUMN unique_until text CHECK (unique_until IN ('started', 'finished')),
            ADD COLUMN unique_for double precision
        """,
        # an enqueue with a unique key looks up the last job stored with it
        """
        CREATE INDEX conveyor_jobs_unique ON {schema}.conveyor_jobs (unique_key, seq)
            WHERE unique_key IS NOT NULL
        """,
    ],
    [
        'ALTER TABLE {schema}.conveyor_jobs ADD COLUMN limit_key text, ADD COLUMN "limit" integer',
        # a claim counts the active jobs of each limited key it meets; jobs without a key
        # never enter this index, so claiming them writes nothing more
        """
        CREATE INDEX conveyor_jobs_limits ON {schema}.conveyor_jobs (limit_key)
            WHERE state = 'active' AND limit_key IS NOT NULL
        """,
    ],
    [
        """
        ALTER TABLE {schema}.conveyor_jobs ADD COLUMN rate_key text,
            ADD COLUMN rate_limit integer, ADD COLUMN rate_period double precision
        """,
        # one token bucket per rate key: its tokens when it was last spent from
        """
        CREATE TABLE {schema}.conveyor_rates (
            key text PRIMARY KEY,
            tokens double precision NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """,
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def quoted(schema: str) -> str:
    """The schema name as an SQL identifier; the name was checked against SCHEMA_NAME."""
    if not SCHEMA_NAME.match(schema):
        raise ConfigurationError(
            f"bad PostgreSQL schema name {schema!r}: use 1 to 48 letters, digits or _, "
            "not starting with a digit"
        )
    return f'"{schema}"'


async def current_version(conn: psycopg.AsyncConnection[Any], schema: str) -> int:
    """The schema's applied version; 0 when conveyor never migrated it."""
    try:
        async with conn.transaction():
            table = f"{quoted(schema)}.conveyor_migrations"
            cursor = await conn.execute(f"SELECT coalesce(max(version), 0) FROM {table}".encode())
            row = await cursor.fetchone()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return 0
    return 0 if row is None else int(row[0])


async def migrate(conn: psycopg.AsyncConnection[Any], schema: str) -> tuple[int, int]:
    """Bring `schema` to SCHEMA_VERSION; (version before, version after).

    Cheap when nothing is to do: one read, no lock and no DDL, so a role that may not
    create tables can still open an up-to-date schema.
    """
    name = quoted(schema)
    found = await current_version(conn, schema)
    if found == SCHEMA_VERSION:
        return found, found
    async with conn.transaction():
        # one migrator per schema at a time, across processes; released at commit
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"conveyor:{schema}",)
        )
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {name}".encode())
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {name}.conveyor_migrations ("
            "version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT statement_timestamp())".encode()
        )
        cursor = await conn.execute(
            f"SELECT coalesce(max(version), 0) FROM {name}.conveyor_migrations".encode()
        )
        row = await cursor.fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"schema {schema!r} has conveyor schema version {version}, newer than the "
                f"{SCHEMA_VERSION} this release understands: upgrade conveyor"
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                await conn.execute(statement.format(schema=name).encode())
            await conn.execute(
                f"INSERT INTO {name}.conveyor_migrations (version) VALUES (%s)".encode(),
                (number,),
            )
    return version, SCHEMA_VERSION  # as found under the lock: another may have just migrated
