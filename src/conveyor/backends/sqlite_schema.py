"""The SQLite schema and its migrations, versioned with `PRAGMA user_version`."""

from __future__ import annotations

import sqlite3

from conveyor.errors import ConfigurationError

# Each entry upgrades the schema from the version before it; never edit a released one.
MIGRATIONS: list[list[str]] = [
    [
        """
        CREATE TABLE conveyor_jobs (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            task TEXT NOT NULL,
            queue TEXT NOT NULL,
            state TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            payload BLOB NOT NULL,
            headers TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 1,
            recoveries INTEGER NOT NULL DEFAULT 0,
            timeout REAL,
            result_ttl REAL,
            enqueued_at REAL NOT NULL,
            due_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            lease_token TEXT,
            lease_expires_at REAL,
            worker TEXT,
            result BLOB,
            error TEXT,
            progress REAL,
            progress_message TEXT,
            checkpoint BLOB,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            expires_at REAL
        )
        """,
        # claims walk this index in priority, then due-time order
        """
        CREATE INDEX conveyor_jobs_pending ON conveyor_jobs (queue, priority DESC, due_at, seq)
        WHERE state IN ('queued', 'scheduled')
        """,
        "CREATE INDEX conveyor_jobs_due ON conveyor_jobs (due_at) WHERE state = 'scheduled'",
        "CREATE INDEX conveyor_jobs_leases ON conveyor_jobs (lease_expires_at) "
        "WHERE state = 'active'",
        "CREATE INDEX conveyor_jobs_expiry ON conveyor_jobs (expires_at) "
        "WHERE expires_at IS NOT NULL",
        "CREATE INDEX conveyor_jobs_state ON conveyor_jobs (state, queue)",
    ],
    [
        "ALTER TABLE conveyor_jobs ADD COLUMN unique_key TEXT",
        "ALTER TABLE conveyor_jobs ADD COLUMN unique_until TEXT",
        "ALTER TABLE conveyor_jobs ADD COLUMN unique_for REAL",
        # an enqueue with a unique key looks up the last job stored with it
        "CREATE INDEX conveyor_jobs_unique ON conveyor_jobs (unique_key, seq) "
        "WHERE unique_key IS NOT NULL",
    ],
    [
        "ALTER TABLE conveyor_jobs ADD COLUMN limit_key TEXT",
        'ALTER TABLE conveyor_jobs ADD COLUMN "limit" INTEGER',
        # a claim counts the active jobs of each limited key it meets
        "CREATE INDEX conveyor_jobs_limits ON conveyor_jobs (limit_key) WHERE state = 'active'",
    ],
    [
        "ALTER TABLE conveyor_jobs ADD COLUMN rate_key TEXT",
        "ALTER TABLE conveyor_jobs ADD COLUMN rate_limit INTEGER",
        "ALTER TABLE conveyor_jobs ADD COLUMN rate_period REAL",
        # one token bucket per rate key: its tokens when it was last spent from
        "CREATE TABLE conveyor_rates (key TEXT PRIMARY KEY, tokens REAL NOT NULL, "
        "updated_at REAL NOT NULL) WITHOUT ROWID",
    ],
    [
        # listings read jobs newest first, (enqueued_at, seq) descending, by walking this
        # index from the top, one range per state and queue (the backlog's index, its key
        # lengthened: no new index on the path of claims and acks) ...
        "DROP INDEX conveyor_jobs_state",
        "CREATE INDEX conveyor_jobs_state ON conveyor_jobs (state, queue, enqueued_at)",
        # ... or a task's jobs: a task never changes, so this costs an enqueue, not a claim
        "CREATE INDEX conveyor_jobs_task ON conveyor_jobs (task, enqueued_at)",
        # the finished jobs per queue and state, kept exact by every statement that finishes,
        # revives or deletes jobs, so counting them does not read the history
        "CREATE TABLE conveyor_finished (queue TEXT NOT NULL, state TEXT NOT NULL, "
        "jobs INTEGER NOT NULL, PRIMARY KEY (queue, state)) WITHOUT ROWID",
        "INSERT INTO conveyor_finished SELECT queue, state, count(*) FROM conveyor_jobs "
        "WHERE state IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, state",
        # how many attempts of a task on a queue ended each way in each minute (the ack
        # batch adds to them); the oldest minutes are purged first
        "CREATE TABLE conveyor_outcomes (minute REAL NOT NULL, queue TEXT NOT NULL, "
        "task TEXT NOT NULL, outcome TEXT NOT NULL, jobs INTEGER NOT NULL, "
        "PRIMARY KEY (minute, queue, task, outcome)) WITHOUT ROWID",
        # the live workers, each renewed by its heartbeats until expires_at
        "CREATE TABLE conveyor_workers (name TEXT PRIMARY KEY, host TEXT NOT NULL, "
        "pid INTEGER NOT NULL, queues TEXT NOT NULL, concurrency INTEGER NOT NULL, "
        "started_at REAL NOT NULL, processed INTEGER NOT NULL, last_seen REAL NOT NULL, "
        "expires_at REAL NOT NULL) WITHOUT ROWID",
        # the queues no claim takes from
        "CREATE TABLE conveyor_paused (queue TEXT PRIMARY KEY) WITHOUT ROWID",
    ],
    [
        # each job's ended attempts, a JSON array appended to by the statement that ends one
        "ALTER TABLE conveyor_jobs ADD COLUMN history TEXT",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; safe when several processes start at once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"this database has conveyor schema version {version}, newer than the "
                f"{SCHEMA_VERSION} this release understands: upgrade conveyor"
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(version)
