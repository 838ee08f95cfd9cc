"""The SQL of the PostgreSQL backend: one statement per operation where it can be.

Times come from the server: `statement_timestamp()` is one instant for a whole statement,
so a job's `enqueued_at` and `due_at` agree and a bulk enqueue keeps its order. Each
statement that changes jobs also announces the change with `pg_notify`, inside the same
transaction, so listeners hear of it exactly when it commits: the work channel carries the
queue name (once per queue per statement), the jobs channel each changed job's id.
"""

from __future__ import annotations

import datetime
from typing import Any

from conveyor.backends.base import JobFilter
from conveyor.backends.history import LEASE_EXPIRED, MAX_HISTORY
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
    j.unique_for, j.limit_key, j."limit", j.rate_key, j.rate_limit, j.rate_period, j.history
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

# a batch: one array per field, in the jobs' order, sent in binary (`%(name)b`): psycopg
# writes a text array by escaping each element in Python, which cost more than the
# statement itself
ENQUEUE = """
WITH inserted AS ({insert_many}), woken AS (
    SELECT pg_notify(%(work)s, q.queue) FROM (SELECT DISTINCT queue FROM inserted) AS q
)
SELECT inserted.id, inserted.enqueued_epoch, (SELECT count(*) FROM woken) FROM inserted
"""
MANY = """
unnest(%(id)b::text[], %(task)b::text[], %(queue)b::text[], %(priority)b::bigint[],
       %(payload)b::bytea[], %(headers)b::text[], %(max_attempts)b::integer[],
       %(timeout)b::float8[], %(result_ttl)b::float8[], %(delay)b::float8[],
       %(unique_key)b::text[], %(unique_until)b::text[], %(unique_for)b::float8[],
       %(limit_key)b::text[], %(limit)b::integer[], %(rate_key)b::text[],
       %(rate_limit)b::integer[], %(rate_period)b::float8[])
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
WITH gone AS (
    DELETE FROM {jobs} AS j
    WHERE j.id = ANY(%(ids)s::text[]) AND j.expires_at <= statement_timestamp()
    RETURNING j.id, j.queue, j.state
), {uncount}
SELECT gone.id FROM gone
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

# The queues asked for that are not paused: one probe of the paused table's key per queue.
# A pause committed before the statement began is seen by it.
UNPAUSED = """
(SELECT u.name FROM unnest(%(queues)s::text[]) AS u(name)
 WHERE NOT EXISTS (SELECT 1 FROM {paused} AS s WHERE s.queue = u.name))
"""

# The first `depth` due jobs of each queue not paused, best first: one index walk per queue
# (LATERAL), for a claim that met jobs with limits.
DUE = """
{unpaused} AS q(name), LATERAL (
    SELECT c.seq, c.priority, c.due_at, c.limit_key, c."limit", c.rate_key, c.rate_limit,
           c.rate_period
    FROM {jobs} AS c
    WHERE c.queue = q.name AND c.state IN ('queued', 'scheduled')
      AND c.due_at <= statement_timestamp()
    ORDER BY c.priority DESC, c.due_at, c.seq
    LIMIT %(depth)s
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

# The first `probed` queues asked for (all when NULL; conveyor.fair_share.probed) that are
# not paused and have due work, each with its share of the claim by weight
# (conveyor.fair_share.shares: what rounding leaves goes one job each to the first queues in
# the order asked). One probe of the pending index per queue, no lock: a LATERAL with a
# LIMIT, which no plan can turn into a read of every pending job (an EXISTS can become a
# hash join over them all). The probes run in the order asked (a nested loop keeps the order
# of its outer rows), so the LIMIT stops them once enough queues have work.
SHARES = """
shares AS (
    SELECT s.name, s.place,
           s.base + CASE WHEN row_number() OVER (ORDER BY s.place)
                              <= %(limit)s::int - sum(s.base) OVER () THEN 1 ELSE 0 END AS share
    FROM (
        SELECT f.name, f.place, %(limit)s::int * f.weight / sum(f.weight) OVER () AS base
        FROM (
            SELECT u.name, u.weight, u.place
            FROM unnest(%(queues)s::text[], %(weights)s::int[]) WITH ORDINALITY
                 AS u(name, weight, place),
                 LATERAL (SELECT 1 FROM {jobs} AS c
                          WHERE c.queue = u.name AND c.state IN ('queued', 'scheduled')
                            AND c.due_at <= statement_timestamp()
                          LIMIT 1) AS work
            WHERE NOT EXISTS (SELECT 1 FROM {paused} AS z WHERE z.queue = u.name)
            LIMIT %(probed)s
        ) AS f
    ) AS s
)
"""

# The best due jobs of each queue, as many as its share: one index walk per queue with a
# share (LATERAL), which locks only the rows it takes. SKIP LOCKED lets concurrent
# claimers pass each other's rows instead of queueing behind them. A job with limits is
# left to the statements below: it keeps its place in `picked` without a seq. The last
# two columns say whether one was met, and which queues may have more (those that filled
# their share, or had none): on every row, and on a row of NULLs when no job was claimed.
# A claim that came short of its limit sends this again for those queues (postgres.py).
CLAIM = """
WITH {shares}, picked AS (
    SELECT q.name AS queue,
           CASE WHEN p.limit_key IS NULL AND p.rate_key IS NULL THEN p.seq END AS seq
    FROM shares AS q, LATERAL (
        SELECT c.seq, c.limit_key, c.rate_key
        FROM {jobs} AS c
        WHERE c.queue = q.name AND c.state IN ('queued', 'scheduled')
          AND c.due_at <= statement_timestamp()
        ORDER BY c.priority DESC, c.due_at, c.seq
        LIMIT q.share
        FOR UPDATE SKIP LOCKED
    ) AS p
), {take}
SELECT claimed.*, (SELECT count(*) FROM announced), met.limited, met.open
FROM (
    SELECT (SELECT bool_or(picked.seq IS NULL) FROM picked),
           ARRAY(SELECT q.name FROM shares AS q
                 LEFT JOIN (SELECT picked.queue, count(picked.seq) AS taken FROM picked
                            GROUP BY picked.queue) AS t ON t.queue = q.name
                 WHERE q.share = coalesce(t.taken, 0)
                 ORDER BY q.place)
) AS met(limited, open)
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

# The minute the statement runs in, the key of the outcome counters (base.minute_of).
MINUTE = "to_timestamp((floor(extract(epoch FROM statement_timestamp()) / 60) * 60)::float8)"

# The job's history with the attempt it is in appended, ended now (SET reads the row as it
# was), the last MAX_HISTORY kept.
APPEND_ATTEMPT = (
    """
CASE WHEN jsonb_array_length(coalesce(j.history, '[]')) >= """
    + str(MAX_HISTORY)
    + """ THEN j.history - 0
     ELSE coalesce(j.history, '[]') END
|| jsonb_build_array(jsonb_build_object(
    'number', j.attempts, 'worker', j.worker,
    'started_at', extract(epoch FROM j.started_at),
    'ended_at', extract(epoch FROM statement_timestamp()),
    'outcome', {outcome}, 'error', {note}))
"""
)

# `requeue`: a retry (scheduled) or a hand-back (queued); anything else ends the job.
# A hand-back made no attempt: the history stays as it was.
# The dead-letter store (failed) is kept until purged; other ends expire after result_ttl.
# The job's queue is woken when the job comes back to it or frees a slot of its limit key
# (workers of other queues that share the key see the slot at their next look).
# The accepted acks add to this minute's outcome counters (by the ack's task and queue, the
# job's when the ack names none; keys in order, so two acks never wait for each other's
# rows crosswise), and the jobs they finished to the finished counts.
ACK = """
WITH a AS (
    SELECT u.*, u.state IN ('scheduled', 'queued') AS requeue
    FROM unnest(%(id)s::text[], %(token)s::text[], %(state)s::text[], %(result)s::bytea[],
                %(error)s::text[], %(retry_in)s::float8[], %(unrun)s::integer[],
                %(outcome)s::text[], %(task)s::text[], %(queue)s::text[], %(note)s::text[])
         WITH ORDINALITY AS u(id, token, state, result, error, retry_in, unrun, outcome,
                              task, queue, note, ord)
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
        history = CASE WHEN a.unrun = 1 THEN j.history ELSE {acked_history} END,
        lease_token = NULL,
        lease_expires_at = NULL
    FROM a
    WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'active'
    RETURNING a.ord, j.id, j.queue, a.requeue, j.limit_key, j.state,
              a.outcome, coalesce(a.task, j.task) AS counted_task,
              coalesce(a.queue, j.queue) AS counted_queue
), woken AS (
    SELECT pg_notify(%(work)s, q.queue)
    FROM (SELECT DISTINCT queue FROM done WHERE requeue OR limit_key IS NOT NULL) AS q
), announced AS (
    SELECT pg_notify(%(events)s, done.id) FROM done
), counted AS (
    INSERT INTO {outcomes} AS o (minute, queue, task, outcome, count)
    SELECT {minute}, done.counted_queue, done.counted_task, done.outcome, count(*)
    FROM done GROUP BY done.counted_queue, done.counted_task, done.outcome
    ORDER BY done.counted_queue, done.counted_task, done.outcome
    ON CONFLICT (minute, queue, task, outcome) DO UPDATE SET count = o.count + excluded.count
), finished AS (
    INSERT INTO {counts} (queue, state, jobs)
    SELECT done.queue, done.state, count(*) FROM done WHERE NOT done.requeue
    GROUP BY done.queue, done.state
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
        history = {lapsed_history},
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
), finished AS (
    INSERT INTO {counts} (queue, state, jobs)
    SELECT recovered.queue, recovered.state, count(*) FROM recovered
    WHERE recovered.state <> 'queued' GROUP BY recovered.queue, recovered.state
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
), finished AS (
    INSERT INTO {counts} (queue, state, jobs)
    SELECT changed.queue, changed.state, 1 FROM changed WHERE changed.state = 'cancelled'
)
SELECT changed.*, (SELECT count(*) FROM announced) FROM changed
"""

# The job's finished state is read, its row locked, before it changes: the finished count
# it leaves is that one.
RETRY = """
WITH was AS (
    SELECT j.seq, j.state FROM {jobs} AS j
    WHERE j.id = %(id)s AND j.state IN ('failed', 'cancelled') AND {live}
    FOR UPDATE
), changed AS (
    UPDATE {jobs} AS j SET
        state = 'queued', due_at = statement_timestamp(), attempts = 0, recoveries = 0,
        error = NULL, result = NULL, finished_at = NULL, expires_at = NULL,
        cancel_requested = false, progress = NULL, progress_message = NULL
    FROM was WHERE j.seq = was.seq
    RETURNING {columns}, was.state AS was
), woken AS (
    SELECT pg_notify(%(work)s, changed.queue) FROM changed
), announced AS (
    SELECT pg_notify(%(events)s, changed.id) FROM changed
), finished AS (
    INSERT INTO {counts} (queue, state, jobs)
    SELECT changed.queue, changed.was, -1 FROM changed
)
SELECT changed.*, (SELECT count(*) FROM woken), (SELECT count(*) FROM announced) FROM changed
"""

# Never reads the history: the finished jobs are the finished counts' sum, less the records
# expired and not purged yet (the expiry index, kept short by purge_expired); the live jobs
# are read from the state index and, for the scheduled jobs that are due, the scheduled
# index (index-only scans both).
COUNTS = """
SELECT c.queue, c.state, sum(c.jobs)::bigint FROM (
    SELECT f.queue, f.state, f.jobs FROM {counts} AS f
    UNION ALL
    SELECT e.queue, e.state, -count(*) FROM {jobs} AS e
    WHERE e.expires_at <= statement_timestamp() GROUP BY e.queue, e.state
    UNION ALL
    SELECT j.queue, j.state, count(*) FROM {jobs} AS j
    WHERE j.state IN ('scheduled', 'queued', 'active') GROUP BY j.queue, j.state
    UNION ALL
    SELECT d.queue, s.state, s.sign * count(*) FROM {jobs} AS d,
           (VALUES ('queued', 1), ('scheduled', -1)) AS s(state, sign)
    WHERE d.state = 'scheduled' AND d.due_at <= statement_timestamp()
    GROUP BY d.queue, s.state, s.sign
) AS c
GROUP BY c.queue, c.state HAVING sum(c.jobs) <> 0
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

# The finished counts less the jobs in `gone` (rows of queue and state) a statement deleted.
UNCOUNT = """
uncounted AS (
    INSERT INTO {counts} (queue, state, jobs)
    SELECT gone.queue, gone.state, -count(*) FROM gone
    WHERE gone.state IN ('succeeded', 'failed', 'cancelled') GROUP BY gone.queue, gone.state
)
"""

# Deletes go a batch per transaction, so no purge holds many row locks for long. Each
# statement returns how many jobs it deleted.
PURGE = """
WITH doomed AS (
    SELECT d.seq FROM {jobs} AS d
    WHERE d.state = ANY(%(states)s::text[])
      AND (%(cutoff)s::float8 IS NULL
           OR d.finished_at <= statement_timestamp() - make_interval(secs => %(cutoff)s))
      AND (%(queue)s::text IS NULL OR d.queue = %(queue)s)
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM {jobs} AS j USING doomed WHERE j.seq = doomed.seq RETURNING j.queue, j.state
), {uncount}
SELECT count(*) FROM gone
"""

PURGE_EXPIRED = """
WITH doomed AS (
    SELECT d.seq FROM {jobs} AS d
    WHERE d.expires_at IS NOT NULL AND d.expires_at <= statement_timestamp()
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM {jobs} AS j USING doomed WHERE j.seq = doomed.seq RETURNING j.queue, j.state
), {uncount}
SELECT count(*) FROM gone
"""

# The finished jobs among %(ids)s, deleted in one statement as a purge deletes each;
# returns how many whose record had not expired.
DELETE_IDS = """
WITH gone AS (
    DELETE FROM {jobs} AS j
    WHERE j.id = ANY(%(ids)s::text[]) AND j.state IN ('succeeded', 'failed', 'cancelled')
    RETURNING j.queue, j.state, j.expires_at
), {uncount}
SELECT count(*) FILTER (WHERE gone.expires_at IS NULL OR gone.expires_at > statement_timestamp())
FROM gone
"""

# Whether a job of these queues is due now, and if not, in how many seconds one will be.
# A job its limits hold back is not work, nor is a paused queue's; the look past held-back
# jobs goes `depth` deep.
PENDING = """
SELECT
    EXISTS (SELECT 1 FROM {due} WHERE {startable}),
    extract(epoch FROM (SELECT min(j.due_at) FROM {jobs} AS j
                        WHERE j.queue = ANY(ARRAY(SELECT q.name FROM {unpaused} AS q(name)))
                          AND j.state = 'scheduled')
                       - statement_timestamp())::float8
"""

NOW = "SELECT extract(epoch FROM clock_timestamp())::float8"

# -- listing ------------------------------------------------------------------------------

# Jobs newest first, (enqueued_at, seq) descending: the order of the listing indexes, each
# walked from the top (or from a cursor) until the page is full. A walk holds jobs of one
# stored state, or of the finished states: a live state's jobs are read from the state index
# and the finished ones from their own indexes, which enqueues and claims never write. A
# listing that spans several walks merges their first pages.
LIST = "SELECT {columns} FROM {jobs} AS j WHERE {where} ORDER BY j.enqueued_at DESC, j.seq DESC"
# a walk whose jobs are all read first, then sorted (see DUE_WALK)
LIST_ALL = """
SELECT * FROM (SELECT {columns} FROM {jobs} AS j WHERE {where} OFFSET 0) AS j
ORDER BY j.enqueued_at DESC, j.seq DESC
"""
PAGE = "{walk} LIMIT %(limit)s OFFSET %(offset)s"
MERGED_PAGE = """
SELECT * FROM ({walks}) AS j
ORDER BY j.enqueued_at DESC, j.seq DESC LIMIT %(limit)s OFFSET %(offset)s
"""
# the listing filters, as JobFilter names them
FILTERS = {
    "queue": "j.queue = %(queue)s",
    "task": "j.task = %(task)s",
    "worker": "j.worker = %(worker)s",
    "since": "j.enqueued_at >= to_timestamp(%(since)s::float8)",
    "until": "j.enqueued_at < to_timestamp(%(until)s::float8)",
    "id_from": "j.id >= %(id_from)s",  # an id prefix: ids from it, before the next prefix
    "id_before": "j.id < %(id_before)s",
    "at": "(j.enqueued_at, j.seq) < (%(at)s::timestamptz, %(seq)s::bigint)",  # a cursor
}
# The walks of each state a reader asks for (None: every state), as conditions written out
# in full, so the planner sees which indexes hold the walk's jobs. A queued job is stored
# queued, or scheduled with its time come.
#
# The planner takes a job's state and its due time to be unrelated, when the scheduled jobs
# are the very ones due later: left to it, it would sort every scheduled job to list those
# not due, or walk past them all to find the due ones. So the due ones (few: workers take
# them) are read whole from the scheduled index, and the others walked in listing order,
# their due time written so that no index matches it.
FINISHED_WALK = "j.state IN ('succeeded', 'failed', 'cancelled')"
DUE_WALK = "j.state = 'scheduled' AND j.due_at <= statement_timestamp()"
NOT_DUE_WALK = "j.state = 'scheduled' AND j.due_at - statement_timestamp() > interval '0'"
STATE_WALKS: dict[str | None, list[str]] = {
    None: ["j.state = 'queued'", "j.state = 'scheduled'", "j.state = 'active'", FINISHED_WALK],
    "queued": ["j.state = 'queued'", DUE_WALK],
    "scheduled": [NOT_DUE_WALK],
    "active": ["j.state = 'active'"],
    "succeeded": ["j.state = 'succeeded'"],
    "failed": ["j.state = 'failed'"],
    "cancelled": ["j.state = 'cancelled'"],
}

# -- the fleet, the queues' switches, the outcome counters ---------------------------------

REGISTER_WORKER = """
INSERT INTO {workers} AS w (name, host, pid, queues, concurrency, started_at, processed,
                            last_seen, expires_at)
VALUES (%(name)s, %(host)s, %(pid)s, %(queues)s::text[], %(concurrency)s, %(started_at)s,
        %(processed)s, statement_timestamp(),
        statement_timestamp() + make_interval(secs => %(ttl)s))
ON CONFLICT (name) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, queues = excluded.queues,
    concurrency = excluded.concurrency, started_at = excluded.started_at,
    processed = excluded.processed, last_seen = excluded.last_seen,
    expires_at = excluded.expires_at
"""

DEREGISTER_WORKER = "DELETE FROM {workers} AS w WHERE w.name = %(name)s"

WORKERS = """
SELECT w.name, w.host, w.pid, w.queues, w.concurrency, w.started_at, w.processed,
       extract(epoch FROM w.last_seen)::float8
FROM {workers} AS w WHERE w.expires_at > statement_timestamp()
"""

PAUSE = "INSERT INTO {paused} (queue) VALUES (%(queue)s) ON CONFLICT (queue) DO NOTHING"

# idle workers of the queue wake, and claim
RESUME = """
WITH resumed AS (DELETE FROM {paused} AS s WHERE s.queue = %(queue)s)
SELECT pg_notify(%(work)s, %(queue)s)
"""

PAUSED = "SELECT s.queue FROM {paused} AS s"

OUTCOME_COUNTS = """
SELECT extract(epoch FROM o.minute)::float8, o.queue, o.task, o.outcome, o.count
FROM {outcomes} AS o WHERE o.minute >= to_timestamp(%(since)s::float8)
"""

# purge_expired's chores besides the jobs: expired workers, outcome counters past their
# retention, and the finished counts folded into one row per queue and state (each sum is
# of the rows this statement deleted, so two at once count nothing twice)
TIDY = """
WITH workers AS (
    DELETE FROM {workers} AS w WHERE w.expires_at <= statement_timestamp()
), outcomes AS (
    DELETE FROM {outcomes} AS o
    WHERE o.minute < statement_timestamp() - make_interval(secs => %(retention)s)
), gone AS (
    DELETE FROM {counts} AS f RETURNING f.queue, f.state, f.jobs
), folded AS (
    INSERT INTO {counts} (queue, state, jobs)
    SELECT gone.queue, gone.state, sum(gone.jobs) FROM gone
    GROUP BY gone.queue, gone.state HAVING sum(gone.jobs) <> 0
)
SELECT count(*) FROM gone
"""

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
        counts = f"{quoted(schema)}.conveyor_counts"
        unpaused = UNPAUSED.format(paused=f"{quoted(schema)}.conveyor_paused")
        parts = {
            "jobs": jobs,
            "rates": rates,
            "counts": counts,
            "outcomes": f"{quoted(schema)}.conveyor_outcomes",
            "workers": f"{quoted(schema)}.conveyor_workers",
            "paused": f"{quoted(schema)}.conveyor_paused",
            "unpaused": unpaused,
            "minute": MINUTE,
            "columns": COLUMNS,
            "live": LIVE,
            "due": DUE.format(unpaused=unpaused, jobs=jobs),
            "startable": STARTABLE.format(jobs=jobs, rates=rates),
            "uncount": UNCOUNT.format(counts=counts),
            "acked_history": APPEND_ATTEMPT.format(outcome="a.outcome", note="a.note"),
            "lapsed_history": APPEND_ATTEMPT.format(outcome=f"'{LEASE_EXPIRED}'", note="NULL"),
        }
        parts["take"] = TAKE.format(**parts)
        parts["shares"] = SHARES.format(**parts)
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
        self.delete_ids = build(DELETE_IDS)
        self.pending = build(PENDING)
        self.register_worker = build(REGISTER_WORKER)
        self.deregister_worker = build(DEREGISTER_WORKER)
        self.workers = build(WORKERS)
        self.pause = build(PAUSE)
        self.resume = build(RESUME)
        self.paused = build(PAUSED)
        self.outcome_counts = build(OUTCOME_COUNTS)
        self.tidy = build(TIDY)
        self.now = NOW.encode()
        self.generic_plan = GENERIC_PLAN.encode()
        self.jobs = parts["jobs"]
        # channel names are database-wide: the schema keeps two stores apart
        self.work_channel = f"conveyor_work.{schema}"
        self.unique_namespace = f"conveyor_unique.{schema}:"
        self.limits_namespace = f"conveyor_limits.{schema}:"
        self.events_channel = f"conveyor_jobs.{schema}"


def listing(
    sql: Statements, query: JobFilter, after: tuple[datetime.datetime, int] | None
) -> tuple[bytes, dict[str, Any]]:
    """The statement that lists a page of `query` and its parameters. It reads one job more
    than the page holds: whether it finds one says whether another page follows. `after`:
    the (enqueued_at, seq) of a cursor, the job the page starts after."""
    prefix = query.id_prefix or None
    params: dict[str, Any] = {
        "queue": query.queue, "task": query.task, "worker": query.worker,
        "since": query.since, "until": query.until,
        "id_from": prefix, "id_before": None if prefix is None else _past_prefix(prefix),
        "at": None if after is None else after[0], "seq": None if after is None else after[1],
        "limit": query.limit + 1, "offset": query.offset,
        "depth": query.limit + 1 + query.offset,
    }  # fmt: skip
    where = [LIVE] + [clause for name, clause in FILTERS.items() if params[name] is not None]
    selects = [
        (LIST_ALL if walk == DUE_WALK else LIST).format(
            columns=COLUMNS, jobs=sql.jobs, where=" AND ".join([walk, *where])
        )
        for walk in STATE_WALKS[None if query.state is None else query.state.value]
    ]
    if len(selects) == 1:
        return PAGE.format(walk=selects[0]).encode(), params
    merged = " UNION ALL ".join(f"({select} LIMIT %(depth)s)" for select in selects)
    return MERGED_PAGE.format(walks=merged).encode(), params


def _past_prefix(prefix: str) -> str | None:
    """The first text after all those that start with `prefix` in code point order (which is
    the byte order of the id column's "C" collation); None when no text comes after them."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)
        prefix = prefix[:-1]
    return None
