"""A job's stored fields, read and written straight in its backend's store, as another
program with access to the store could: SQL on SQLite and PostgreSQL, HGET/HSET on Redis,
the record itself in a memory store. No conveyor code is on that path.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Any

import psycopg
import redis
from psycopg.types.json import Jsonb

from conveyor.backends import Backend
from conveyor.backends.memory import MemoryBackend
from conveyor.backends.postgres import PostgresBackend
from conveyor.backends.redis import RedisBackend
from conveyor.backends.sqlite import SQLiteBackend
from live_services import REDIS_URL

# the job fields a test may read or change; headers are a dict of str
FIELDS = ("task", "payload", "headers", "result", "checkpoint", "progress_message")
Value = bytes | str | dict[str, str] | None


class RawStore:
    """The store behind `backend`, opened beside it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def read(self, job_id: str, field: str) -> Value:
        assert field in FIELDS, field
        backend = self.backend
        value: Any
        if isinstance(backend, MemoryBackend):
            value = getattr(backend._jobs[job_id], field)
        elif isinstance(backend, SQLiteBackend):
            with _sqlite(backend) as conn:
                sql = f"SELECT {field} FROM conveyor_jobs WHERE id = ?"
                (value,) = conn.execute(sql, (job_id,)).fetchone()
            value = json.loads(value or "{}") if field == "headers" else value
        elif isinstance(backend, PostgresBackend):
            with psycopg.connect(backend.conninfo) as pg:
                sql = f'SELECT {field} FROM "{backend.schema}".conveyor_jobs WHERE id = %s'
                row = pg.execute(sql.encode(), (job_id,)).fetchone()
            assert row is not None, job_id
            value = (row[0] or {}) if field == "headers" else row[0]
        elif isinstance(backend, RedisBackend):
            with redis.Redis.from_url(REDIS_URL) as client:
                value = client.hget(_redis_key(client, backend, job_id), field)
            value = json.loads(value or "{}") if field == "headers" else value
        else:
            raise LookupError(f"no raw access to {type(backend).__name__}")
        return value  # type: ignore[no-any-return]

    def write(self, job_id: str, field: str, value: Value) -> None:
        assert field in FIELDS, field
        backend = self.backend
        as_text = json.dumps(value) if field == "headers" else value
        if isinstance(backend, MemoryBackend):
            with backend._lock:
                setattr(backend._jobs[job_id], field, value)
        elif isinstance(backend, SQLiteBackend):
            with _sqlite(backend) as conn, conn:
                sql = f"UPDATE conveyor_jobs SET {field} = ? WHERE id = ?"
                conn.execute(sql, (as_text, job_id))
        elif isinstance(backend, PostgresBackend):
            with psycopg.connect(backend.conninfo) as pg:
                sql = f'UPDATE "{backend.schema}".conveyor_jobs SET {field} = %s WHERE id = %s'
                pg.execute(sql.encode(), (Jsonb(value) if field == "headers" else value, job_id))
        elif isinstance(backend, RedisBackend):
            assert isinstance(as_text, bytes | str)
            with redis.Redis.from_url(REDIS_URL) as client:
                client.hset(_redis_key(client, backend, job_id), field, as_text)
        else:
            raise LookupError(f"no raw access to {type(backend).__name__}")


def _sqlite(backend: SQLiteBackend) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(backend.path))


def _redis_key(client: redis.Redis, backend: RedisBackend, job_id: str) -> str:
    queue: Any = client.hget(f"{backend.keyspace}:ids", job_id)
    assert queue is not None, f"no job {job_id} in Redis"
    return f"{backend.keyspace}:{{{queue.decode()}}}:job:{job_id}"
