"""The SQL of the PostgreSQL backend: one statement per operation where it can be.

Times come from the server: `statement_timestamp()` is one instant for a whole statement,
so a job's `enqueued_at` and `due_at` agree and a bulk enqueue keeps its order. Each
statement that changes jobs also announces the change with `pg_notify`, inside the same
transaction, so listeners hear of it exactly when it commits: the work channel carries the
queue name (once per queue per statement), the jobs channel each changed job's id.
"""

from __future__ import annotations

from conveyor.backends.postgres_schema import quoted

# a job as readers see it: a scheduled job whose time has come reads as queued
COLUMNS = """
    j.id, j.task, j.queue,
    CASE WHEN j.state = 'scheduled' AND j.due_at <= statement_timestamp() THEN 'queued'
         ELSE j.state END AS state,
    j.priority, j.payload, j.headers, j.attempts, j.max_attempts, j.recoveries, j.timeout,
    j.result_ttl, j.enqueued_at, j.due_at, j.started_at, j.finished_at, j.lease_token,
    j.lease_expires_at, j.worker, j.result, j.error, j.progress, j.progress_message,
    j.checkpoint, j.cancel_requested, j.expires_at, j.seq, j.unique_key, j.unique_until,
    j.unique_for, j.limit_key, j."limit", j.rate_key, j.rate_limit, j.rate_period
"""
LIVE = "(j.expires_at IS NULL OR j.expires_at > statement_timestamp())"

# New jobs from `i`, a row source naming every field; each new job comes back as its id, its
# queue and the statement's time: the caller has the rest.
INSERT = """
    INSERT INTO {jobs} AS j (id, task, queue, state, priority, payload, headers,
                             max_attempts, timeout, result_ttl, enqueued_at, due_at,
                             unique_key, unique_until, unique_for, limit_key, "limit",
                             rate_key, rate_limit, rate_period)
    SELECT i.id, i.task, i.queue,
           CASE WHEN i.delay > 0 THEN 'scheduled' ELSE 'queued' END,
           i.priority, i.payload, i.headers::jsonb, i.max_attempts, i.timeout, i.result_ttl,
           statement_timestamp(), statement_timestamp() + make_interval(secs => i.delay),
           i.unique_key, i.unique_until, i.unique_for, i.limit_key, i."limit", i.rate_key,
           i.rate_limit, i.rate_period
    FROM {source}
    ON CONFLICT (id) DO NOTHING
    RETURNING j.id, j.queue, extract(epoch FROM j.enqueued_at) AS enqueued_epoch
"""
FIELDS = """id, task, queue, priority, payload, headers, max_attempts, timeout, result_ttl,
            delay, unique_key, unique_until, unique_for, limit_key, "limit", rate_key,
            rate_limit, rate_period"""

# a batch: one array per field, in the jobs' order
ENQUEUE = """
WITH inserted AS ({insert_many}), woken AS (
    SELECT pg_notify(%(work)s, q.queue) FROM (SELECT DISTINCT queue FROM inserted) AS q
)
SELECT inserted.id, inserted.enqueued_epoch, (SELECT count(*) FROM woken) FROM inserted
"""
MANY = """
unnest(%(id)s::text[], %(task)s::text[], %(queue)s::text[], %(priority)s::bigint[],
       %(payload)s::bytea[], %(headers)s::text[], %(max_attempts)s::integer[],
       %(timeout)s::float8[], %(result_ttl)s::float8[], %(delay)s::float8[],
       %(unique_key)s::text[], %(unique_until)s::text[], %(unique_for)s::float8[],
       %(limit_key)s::text[], %(limit)s::integer[], %(rate_key)s::text[],
       %(rate_limit)s::integer[], %(rate_period)s::float8[])
    WITH ORDINALITY AS i({fields}, ord)
ORDER BY i.ord
"""

# One job, the common case: plain parameters, which psycopg sends a dozen times faster
# than eighteen arrays of one. Rows and notifications as ENQUEUE's.
ENQUEUE_ONE = """
WITH inserted AS ({insert_one})
SELECT inserted.id, inserted.enqueued_epoch, pg_notify(%(work)s, inserted.queue) FROM inserted
"""
ONE = """
(SELECT %(id)s::text, %(task)s::text, %(queue)s::text, %(priority)s::bigint,
        %(payload)s::bytea, %(headers)s::text, %(max_attempts)s::integer,
        %(timeout)s::float8, %(result_ttl)s::float8, %(delay)s::float8,
        %(unique_key)s::text, %(unique_until)s::text, %(unique_for)s::float8,
        %(limit_key)s::text, %(limit)s::integer, %(rate_key)s::text,
        %(rate_limit)s::integer, %(rate_period)s::float8) AS i({fields})
"""

DROP_EXPIRED_IDS = """
DELETE FROM {jobs} AS j
WHERE j.id = ANY(%(ids)s::text[]) AND j.expires_at <= statement_timestamp()
RETURNING j.id
"""

# Enqueues that name the same unique keys take turns (in key order, so none deadlock);
# the lock is held until the enqueue's transaction ends, when its jobs are visible.
LOCK_UNIQUE_KEYS = """
SELECT count(pg_advisory_xact_lock(hashtextextended(%(namespace)s || k.key, 0)))
FROM (SELECT DISTINCT key FROM unnest(%(keys)s::text[]) AS u(key) ORDER BY key) AS k
"""

# the last job stored with each unique key, if its record lives, and the server's time
UNIQUE_HOLDERS = """
SELECT DISTINCT ON (j.unique_key) {columns}, extract(epoch FROM statement_timestamp())
FROM {jobs} AS j WHERE j.unique_key = ANY(%(keys)s::text[])
ORDER BY j.unique_key, j.seq DESC
"""

LIVE_IDS = "SELECT j.id FROM {jobs} AS j WHERE j.id = ANY(%(ids)s::text[]) AND {live}"

SELECT_IDS = "SELECT {columns} FROM {jobs} AS j WHERE j.id = ANY(%(ids)s::text[]) AND {live}"

SELECT_ONE = "SELECT {columns} FROM {jobs} AS j WHERE j.id = %(id)s AND {live}"

# The first `depth` due jobs of each queue, best first: one index walk per queue (LATERAL).
# `lock` is empty, or a row-locking clause.
DUE = """
unnest(%(queues)s::text[]) AS q(name), LATERAL (
    SELECT c.seq, c.priority, c.due_at, c.limit_key, c."limit", c.rate_key, c.rate_limit,
           c.rate_period
    FROM {jobs} AS c
    WHERE c.queue = q.name AND c.state IN ('queued', 'scheduled')
      AND c.due_at <= statement_timestamp()
    ORDER BY c.priority DESC, c.due_at, c.seq
    LIMIT %(depth)s
    {lock}
) AS p
"""

# Whether the limits of due job `p` let it start, as this statement sees them: a free slot
# under its concurrency limit, a token in its rate bucket (as `bucket_tokens` counts them).
STARTABLE = """
(p.limit_key IS NULL
 OR (SELECT count(*) FROM {jobs} AS a WHERE a.limit_key = p.limit_key AND a.state = 'active')
    < p."limit")
AND (p.rate_key IS NULL
     OR coalesce((SELECT least(p.rate_limit, b.tokens + p.rate_limit / p.rate_period
                               * greatest(0, extract(epoch FROM statement_timestamp()
                                                     - b.updated_at)::float8))
                  FROM {rates} AS b WHERE b.key = p.rate_key), p.rate_limit) >= 1)
"""

# Makes the `picked` jobs active under a new lease and announces each. They are found by
# seq in an array, which plans as probes of the primary key whatever size the planner
# guesses for `picked` (a join could become a scan of the whole table).
TAKE = """
claimed AS (
    UPDATE {jobs} AS j
    SET state = 'active', attempts = j.attempts + 1, lease_token = %(token)s,
        lease_expires_at = statement_timestamp() + make_interval(secs => %(lease)s),
        started_at = statement_timestamp(), worker = %(worker)s
    WHERE j.seq = ANY(ARRAY(SELECT picked.seq FROM picked))
    RETURNING {columns}
), announced AS (
    SELECT pg_notify(%(events)s, claimed.id) FROM claimed
)
"""

# The best due jobs of the queues, merged by priority then age. SKIP LOCKED lets
# concurrent claimers pass each other's rows instead of queueing behind them. A job with
# limits is left to the statements below: it keeps its place in `picked` without a seq,
# and the last column says one was met (on every row, and on a row of NULLs when no job
# was claimed).
CLAIM = """
WITH picked AS (
    SELECT CASE WHEN p.limit_key IS NULL AND p.rate_key IS NULL THEN p.seq END AS seq
    FROM {due_locked}
    ORDER BY p.priority DESC, p.due_at, p.seq
    LIMIT %(limit)s
), {take}
SELECT claimed.*, (SELECT count(*) FROM announced), met.limited
FROM (SELECT bool_or(picked.seq IS NULL) FROM picked) AS met(limited)
LEFT JOIN claimed ON true
"""

# A claim that met jobs with limits goes on in a transaction of the three statements below.
#
# LOCK_LIMITS locks, until the transaction ends, the limit and rate keys of the due jobs
# that this statement sees free to start (a job it sees held back is: later, its key can
# only have fewer free slots and fewer tokens). The keys of the first `wait` such jobs wait
# for their lock, taken in lock order so that claims never deadlock; the others are only
# tried. Rows: (kind, key, locked), kind "limit" or "rate". The locks are taken in the
# select list over a sorted sub-select: in a WHERE clause the planner may move them below
# the sort.
LOCK_LIMITS = """
SELECT l.kind, l.key,
       CASE WHEN l.waits THEN pg_advisory_xact_lock(l.lock_id) IS NOT NULL
            ELSE pg_try_advisory_xact_lock(l.lock_id) END
FROM (
    SELECT k.kind, k.key, bool_or(d.place <= %(wait)s) AS waits,
           hashtextextended(%(namespace)s || k.kind || ':' || k.key, 0) AS lock_id
    FROM (
        SELECT p.limit_key, p.rate_key,
               row_number() OVER (ORDER BY p.priority DESC, p.due_at, p.seq) AS place
        FROM {due}
        WHERE (p.limit_key IS NOT NULL OR p.rate_key IS NOT NULL) AND {startable}
    ) AS d,
    LATERAL (VALUES ('limit', d.limit_key), ('rate', d.rate_key)) AS k(kind, key)
    WHERE k.key IS NOT NULL
    GROUP BY k.kind, k.key
    ORDER BY waits DESC, lock_id
) AS l
"""

# LIMITED_DUE begins after LOCK_LIMITS returned, so it sees what every claim that held
# those locks before committed: the due jobs, best first, with the active jobs of each
# locked limit key and the stored rate bucket of each job, for postgres._choose.
LIMITED_DUE = """
WITH slots AS (
    SELECT k.key, (SELECT count(*) FROM {jobs} AS a
                   WHERE a.limit_key = k.key AND a.state = 'active') AS active
    FROM unnest(%(limit_keys)s::text[]) AS k(key)
)
SELECT p.seq, p.limit_key, p."limit", slots.active, p.rate_key, p.rate_limit, p.rate_period,
       b.tokens, extract(epoch FROM b.updated_at)::float8,
       extract(epoch FROM statement_timestamp())::float8
FROM {due}
LEFT JOIN slots ON slots.key = p.limit_key
LEFT JOIN {rates} AS b ON b.key = p.rate_key
ORDER BY p.priority DESC, p.due_at, p.seq
"""

# CLAIM_CHOSEN takes those of the chosen jobs still due, and stores each rate bucket they
# spent from: its tokens at `now` (before the claim) less one per job taken.
CLAIM_CHOSEN = """
WITH picked AS (
    SELECT j.seq, j.rate_key FROM {jobs} AS j
    WHERE j.seq = ANY(%(seqs)s::bigint[]) AND j.state IN ('queued', 'scheduled')
      AND j.due_at <= statement_timestamp()
    FOR UPDATE SKIP LOCKED
), {take}, spent AS (
    INSERT INTO {rates} AS b (key, tokens, updated_at)
    SELECT t.key, t.tokens - (SELECT count(*) FROM picked WHERE picked.rate_key = t.key),
           to_timestamp(%(now)s)
    FROM unnest(%(rate_keys)s::text[], %(tokens)s::float8[]) AS t(key, tokens)
    ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at
)
SELECT claimed.*, (SELECT count(*) FROM announced) FROM claimed
"""

EXTEND = """
UPDATE {jobs} AS j
SET lease_expires_at = statement_timestamp() + make_interval(secs => %(lease)s)
FROM unnest(%(id)s::text[], %(token)s::text[]) AS l(id, token)
WHERE j.id = l.id AND j.lease_token = l.token AND j.state = 'active'
RETURNING j.id, j.cancel_requested
"""

# `requeue`: a retry (scheduled) or a hand-back (queued); anything else ends the job.
# The dead-letter store (failed) is kept until purged; other ends expire after result_ttl.
# The job's queue is woken when the job comes back to it or frees a slot of its limit key
# (workers of other queues that share the key see the slot at their next look).
ACK = """
WITH a AS (
    SELECT u.*, u.state IN ('scheduled', 'queued') AS requeue
    FROM unnest(%(id)s::text[], %(token)s::text[], %(state)s::text[], %(result)s::bytea[],
                %(error)s::text[], %(retry_in)s::float8[], %(unrun)s::integer[])
         WITH ORDINALITY AS u(id, token, state, result, error, retry_in, unrun, ord)
), done AS (
    UPDATE {jobs} AS j SET
        state = CASE WHEN NOT a.requeue THEN a.state
                     WHEN a.retry_in > 0 THEN 'scheduled' ELSE 'queued' END,
        result = CASE WHEN a.requeue THEN j.result ELSE a.result END,
        error = CASE WHEN a.requeue THEN coalesce(a.error::jsonb, j.error)
                     ELSE a.error::jsonb END,
        finished_at = CASE WHEN a.requeue THEN j.finished_at ELSE statement_timestamp() END,
        expires_at = CASE WHEN a.requeue OR a.state = 'failed' OR j.result_ttl IS NULL THEN NULL
                          ELSE statement_timestamp() + make_interval(secs => j.result_ttl) END,
        due_at = CASE WHEN a.requeue
                      THEN statement_timestamp() + make_interval(secs => a.retry_in)
                      ELSE j.due_at END,
        attempts = j.attempts - a.unrun,
        worker = CASE WHEN a.requeue THEN NULL ELSE j.worker END,
        lease_token = NULL,
        lease_expires_at = NULL
    FROM a
    WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'active'
    RETURNING a.ord, j.id, j.queue, a.requeue, j.limit_key
), woken AS (
    SELECT pg_notify(%(work)s, q.queue)
    FROM (SELECT DISTINCT queue FROM done WHERE requeue OR limit_key IS NOT NULL) AS q
), announced AS (
    SELECT pg_notify(%(events)s, done.id) FROM done
)
SELECT done.ord, (SELECT count(*) FROM woken), (SELECT count(*) FROM announced) FROM done
"""

UPDATE_RUNNING = """
WITH u AS (
    SELECT * FROM unnest(%(id)s::text[], %(token)s::text[], %(progress)s::float8[],
                         %(message)s::text[], %(checkpoint)s::bytea[])
         WITH ORDINALITY AS u(id, token, progress, message, checkpoint, ord)
), changed AS (
    UPDATE {jobs} AS j SET
        progress = coalesce(u.progress, j.progress),
        progress_message = CASE WHEN u.progress IS NULL THEN j.progress_message
                                ELSE u.message END,
        checkpoint = coalesce(u.checkpoint, j.checkpoint)
    FROM u
    WHERE j.id = u.id AND j.lease_token = u.token AND j.state = 'active'
    RETURNING u.ord, j.id, u.progress IS NOT NULL AS moved
), announced AS (
    SELECT pg_notify(%(events)s, changed.id) FROM changed WHERE moved
)
SELECT changed.ord, (SELECT count(*) FROM announced) FROM changed
"""

# A batch at a time, skipping rows another sweeper (or an ack) holds: several workers
# sweep at once without waiting for each other. `lost`: dead-lettered as worker_lost.
# Queues are woken as by ACK.
RECOVER = """
WITH expired AS (
    SELECT e.seq FROM {jobs} AS e
    WHERE e.state = 'active' AND e.lease_expires_at <= statement_timestamp()
    ORDER BY e.lease_expires_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), recovered AS (
    UPDATE {jobs} AS j SET
        state = CASE WHEN j.cancel_requested THEN 'cancelled'
                     WHEN j.recoveries >= %(max)s THEN 'failed' ELSE 'queued' END,
        recoveries = CASE WHEN j.cancel_requested OR j.recoveries >= %(max)s THEN j.recoveries
                          ELSE j.recoveries + 1 END,
        error = CASE WHEN NOT j.cancel_requested AND j.recoveries >= %(max)s
                     THEN %(error)s::jsonb ELSE j.error END,
        finished_at = CASE WHEN j.cancel_requested OR j.recoveries >= %(max)s
                           THEN statement_timestamp() ELSE j.finished_at END,
        expires_at = CASE WHEN j.cancel_requested AND j.result_ttl IS NOT NULL
                          THEN statement_timestamp() + make_interval(secs => j.result_ttl)
                          ELSE j.expires_at END,
        worker = CASE WHEN j.cancel_requested OR j.recoveries >= %(max)s THEN j.worker
                      ELSE NULL END,
        lease_token = NULL,
        lease_expires_at = NULL
    FROM expired WHERE j.seq = expired.seq
    RETURNING j.id, j.queue, j.state, j.limit_key
), woken AS (
    SELECT pg_notify(%(work)s, q.queue)
    FROM (SELECT DISTINCT queue FROM recovered
          WHERE state = 'queued' OR limit_key IS NOT NULL) AS q
), announced AS (
    SELECT pg_notify(%(events)s, recovered.id) FROM recovered
)
SELECT recovered.state, (SELECT count(*) FROM woken), (SELECT count(*) FROM announced)
FROM recovered
"""

# a pending job is cancelled at once; an active one is asked to stop
CANCEL = """
WITH changed AS (
    UPDATE {jobs} AS j SET
        state = CASE WHEN j.state = 'active' THEN 'active' ELSE 'cancelled' END,
        finished_at = CASE WHEN j.state = 'active' THEN j.finished_at
                           ELSE statement_timestamp() END,
        expires_at = CASE WHEN j.state <> 'active' AND j.result_ttl IS NOT NULL
                          THEN statement_timestamp() + make_interval(secs => j.result_ttl)
                          ELSE j.expires_at END,
        cancel_requested = j.cancel_requested OR j.state = 'active'
    WHERE j.id = %(id)s AND j.state IN ('queued', 'scheduled', 'active') AND {live}
    RETURNING {columns}
), announced AS (
    SELECT pg_notify(%(events)s, changed.id) FROM changed
)
SELECT changed.*, (SELECT count(*) FROM announced) FROM changed
"""

RETRY = """
WITH changed AS (
    UPDATE {jobs} AS j SET
        state = 'queued', due_at = statement_timestamp(), attempts = 0, recoveries = 0,
        error = NULL, result = NULL, finished_at = NULL, expires_at = NULL,
        cancel_requested = false, progress = NULL, progress_message = NULL
    WHERE j.id = %(id)s AND j.state IN ('failed', 'cancelled') AND {live}
    RETURNING {columns}
), woken AS (
    SELECT pg_notify(%(work)s, changed.queue) FROM changed
), announced AS (
    SELECT pg_notify(%(events)s, changed.id) FROM changed
)
SELECT changed.*, (SELECT count(*) FROM woken), (SELECT count(*) FROM announced) FROM changed
"""

COUNTS = """
SELECT j.queue, CASE WHEN j.state = 'scheduled' AND j.due_at <= statement_timestamp()
                     THEN 'queued' ELSE j.state END AS seen, count(*)
FROM {jobs} AS j WHERE {live} GROUP BY j.queue, seen
"""

# read from two indexes, never visiting a finished job: the jobs of each live (and the
# failed) state from conveyor_jobs_state, and the due ones (queued, or scheduled and due)
# with the oldest due time from the pending index (see backlog_of_rows)
BACKLOG = """
SELECT j.queue, j.state, count(*), 0.0::float8 FROM {jobs} AS j
WHERE j.state IN ('scheduled', 'queued', 'active', 'failed') GROUP BY j.queue, j.state
UNION ALL
SELECT d.queue, 'due', count(*), extract(epoch FROM statement_timestamp() - min(d.due_at))::float8
FROM {jobs} AS d
WHERE d.state IN ('queued', 'scheduled') AND d.due_at <= statement_timestamp() GROUP BY d.queue
"""

# Deletes go a batch per transaction, so no purge holds many row locks for long.
PURGE = """
WITH doomed AS (
    SELECT d.seq FROM {jobs} AS d
    WHERE d.state = ANY(%(states)s::text[])
      AND (%(cutoff)s::float8 IS NULL
           OR d.finished_at <= statement_timestamp() - make_interval(secs => %(cutoff)s))
      AND (%(queue)s::text IS NULL OR d.queue = %(queue)s)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM {jobs} AS j USING doomed WHERE j.seq = doomed.seq
"""

PURGE_EXPIRED = """
WITH doomed AS (
    SELECT d.seq FROM {jobs} AS d
    WHERE d.expires_at IS NOT NULL AND d.expires_at <= statement_timestamp()
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM {jobs} AS j USING doomed WHERE j.seq = doomed.seq
"""

# Whether a job of these queues is due now, and if not, in how many seconds one will be.
# A job its limits hold back is not work; the look past them goes `depth` deep.
PENDING = """
SELECT
    EXISTS (SELECT 1 FROM {due} WHERE {startable}),
    extract(epoch FROM (SELECT min(j.due_at) FROM {jobs} AS j
                        WHERE j.queue = ANY(%(queues)s::text[]) AND j.state = 'scheduled')
                       - statement_timestamp())::float8
"""

NOW = "SELECT extract(epoch FROM clock_timestamp())::float8"

# Sent with CLAIM in one pipeline, so both run in one implicit transaction and the settings
# end with it. Left alone, the planner plans every claim afresh (it prices the cached plan
# as if ten queues were asked for), a third of a millisecond or more each time. The cached
# plan must stay good however the table grows after it was made: without seq scans, it
# reads the jobs table only through its indexes (tests/postgres/test_plans.py).
GENERIC_PLAN = """
SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
       set_config('enable_seqscan', 'off', true)
"""


class Statements:
    """The statements above for one schema, encoded once."""

    def __init__(self, schema: str) -> None:
        jobs = f"{quoted(schema)}.conveyor_jobs"
        rates = f"{quoted(schema)}.conveyor_rates"
        parts = {
            "jobs": jobs,
            "rates": rates,
            "columns": COLUMNS,
            "live": LIVE,
            "due": DUE.format(jobs=jobs, lock=""),
            "due_locked": DUE.format(jobs=jobs, lock="FOR UPDATE SKIP LOCKED"),
            "startable": STARTABLE.format(jobs=jobs, rates=rates),
        }
        parts["take"] = TAKE.format(**parts)
        for name, source in (("insert_many", MANY), ("insert_one", ONE)):
            parts[name] = INSERT.format(jobs=jobs, source=source.format(fields=FIELDS))

        def build(template: str) -> bytes:
            return template.format(**parts).encode()

        self.enqueue = build(ENQUEUE)
        self.enqueue_one = build(ENQUEUE_ONE)
        self.drop_expired_ids = build(DROP_EXPIRED_IDS)
        self.select_ids = build(SELECT_IDS)
        self.lock_unique_keys = build(LOCK_UNIQUE_KEYS)
        self.unique_holders = build(UNIQUE_HOLDERS)
        self.live_ids = build(LIVE_IDS)
        self.select_one = build(SELECT_ONE)
        self.claim = build(CLAIM)
        self.lock_limits = build(LOCK_LIMITS)
        self.limited_due = build(LIMITED_DUE)
        self.claim_chosen = build(CLAIM_CHOSEN)
        self.extend = build(EXTEND)
        self.ack = build(ACK)
        self.update_running = build(UPDATE_RUNNING)
        self.recover = build(RECOVER)
        self.cancel = build(CANCEL)
        self.retry = build(RETRY)
        self.counts = build(COUNTS)
        self.backlog = build(BACKLOG)
        self.purge = build(PURGE)
        self.purge_expired = build(PURGE_EXPIRED)
        self.pending = build(PENDING)
        self.now = NOW.encode()
        self.generic_plan = GENERIC_PLAN.encode()
        self.jobs = parts["jobs"]
        # channel names are database-wide: the schema keeps two stores apart
        self.work_channel = f"conveyor_work.{schema}"
        self.unique_namespace = f"conveyor_unique.{schema}:"
        self.limits_namespace = f"conveyor_limits.{schema}:"
        self.events_channel = f"conveyor_jobs.{schema}"
