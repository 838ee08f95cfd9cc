"""The PostgreSQL schema and its migrations, versioned in a `conveyor_migrations` table.

Everything lives in one schema (the URL's `?schema=`, default `public`): the jobs table,
its indexes, the rate buckets, the finished jobs' counts, the per-minute outcome counters,
the worker registry, the paused queues and the table of applied migrations. `migrate` is idempotent
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
    [
        # Listings read jobs newest first, (enqueued_at, seq) descending, by walking indexes
        # in that order from the top (or from a cursor) until a page is full: the jobs of
        # each live state through the state index, the finished ones through the three
        # below (see postgres_sql.LIST).
        #
        # ids compare byte by byte, whatever the database's collation: an id prefix is then
        # a range of the id index (equality, all the id is ever compared by, is unchanged)
        'ALTER TABLE {schema}.conveyor_jobs ALTER COLUMN id TYPE text COLLATE "C"',
        # the state index, lengthened: each state's jobs (and a queue's, checked inside the
        # index) in listing order; the backlog still counts each state's jobs per queue from
        # it alone. Every version of a job had an entry in it already: it costs no new one
        "DROP INDEX {schema}.conveyor_jobs_state",
        """
        CREATE INDEX conveyor_jobs_state ON {schema}.conveyor_jobs
            (state, enqueued_at, seq, queue)
        """,
        # every finished job, a queue's, a task's, in listing order, so a quiet queue or a
        # rare task is found without reading the busy ones; a time range is a range of each.
        # Enqueues and claims write none of them, only the ack that finishes a job
        """
        CREATE INDEX conveyor_jobs_finished ON {schema}.conveyor_jobs (enqueued_at, seq)
            WHERE state IN ('succeeded', 'failed', 'cancelled')
        """,
        """
        CREATE INDEX conveyor_jobs_finished_queue ON {schema}.conveyor_jobs
            (queue, enqueued_at, seq) WHERE state IN ('succeeded', 'failed', 'cancelled')
        """,
        """
        CREATE INDEX conveyor_jobs_finished_task ON {schema}.conveyor_jobs
            (task, enqueued_at, seq) WHERE state IN ('succeeded', 'failed', 'cancelled')
        """,
        # Changes to the number of finished jobs per queue and state, one row per statement
        # that moved some (appended, never updated: no two statements wait for each other),
        # folded into one row each by purge_expired: counts() sums them instead of reading
        # the history. Every statement of conveyor's that moves a job into or out of a
        # finished state, or deletes one, adds its row here.
        """
        CREATE TABLE {schema}.conveyor_counts (
            queue text NOT NULL,
            state text NOT NULL,
            jobs bigint NOT NULL
        ) WITH (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000)
        """,
        """
        INSERT INTO {schema}.conveyor_counts (queue, state, jobs)
        SELECT queue, state, count(*) FROM {schema}.conveyor_jobs
        WHERE state IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, state
        """,
        # how many attempts of a task on a queue ended each way in each minute; each ack
        # statement adds its accepted acks
        """
        CREATE TABLE {schema}.conveyor_outcomes (
            minute timestamptz NOT NULL,
            queue text NOT NULL,
            task text NOT NULL,
            outcome text NOT NULL,
            count bigint NOT NULL,
            PRIMARY KEY (minute, queue, task, outcome)
        )
        """,
        # the live workers, each renewed by its heartbeats until expires_at
        """
        CREATE TABLE {schema}.conveyor_workers (
            name text PRIMARY KEY,
            host text NOT NULL,
            pid integer NOT NULL,
            queues text[] NOT NULL,
            concurrency integer NOT NULL,
            started_at double precision NOT NULL,
            processed bigint NOT NULL,
            last_seen timestamptz NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """,
        # the queues no claim takes jobs from
        """
        CREATE TABLE {schema}.conveyor_paused (
            queue text PRIMARY KEY,
            paused_at timestamptz NOT NULL DEFAULT statement_timestamp()
        )
        """,
    ],
    [
        # each job's ended attempts, a JSON array appended to by the statement that ends one
        "ALTER TABLE {schema}.conveyor_jobs ADD COLUMN history jsonb",
    ],
    [
        # Vacuum that keeps claims as cheap at a million finished jobs as at none. A claim
        # leaves its job's old version in the pending index, at the front where every claim
        # starts its walk, until a vacuum takes it out. So vacuum after a fixed number of
        # dead versions (some 4,000 jobs: each leaves two or three, by its claim, renewals
        # and ack), not a share of the table that grows with the history; and always clean
        # the indexes: left to itself, a vacuum skips that while the dead versions sit on
        # under 2% of the table's pages, as a long run of claims does in a big history.
        """
        ALTER TABLE {schema}.conveyor_jobs SET (autovacuum_vacuum_scale_factor = 0,
            autovacuum_vacuum_threshold = 10000, vacuum_index_cleanup = on)
        """,
        # The small tables updated all the time (outcome counters at each ack, worker
        # heartbeats, rate buckets at each claim): half of each page kept free, so an update
        # writes the row's new version beside the old one and no index entry (a HOT update),
        # and the page prunes itself; the counters vacuumed after a fixed number of changes
        # however many minutes they keep.
        """
        ALTER TABLE {schema}.conveyor_outcomes SET (fillfactor = 50,
            autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)
        """,
        "ALTER TABLE {schema}.conveyor_workers SET (fillfactor = 50)",
        "ALTER TABLE {schema}.conveyor_rates SET (fillfactor = 50)",
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
