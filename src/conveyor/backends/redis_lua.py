"""The Lua scripts of the Redis backend: every state change is one script, one round trip.

Key layout (all under the `conveyor:` prefix; `{Q}` is the queue's hash tag, so each
queue's keys live in one Redis Cluster slot):

    conveyor:{Q}:job:<id>    HASH   the job record
    conveyor:{Q}:ready       ZSET   due jobs; score (-priority) * 2^42 + sequence
    conveyor:{Q}:scheduled   ZSET   jobs not due yet; score = due time
    conveyor:{Q}:active      ZSET   claimed jobs; score = lease expiry
    conveyor:{Q}:succeeded   ZSET   \
    conveyor:{Q}:failed      ZSET    } finished jobs; score = finish time
    conveyor:{Q}:cancelled   ZSET   /
    conveyor:{Q}:expiry      ZSET   finished jobs with a result TTL; score = expiry time
    conveyor:{Q}:all         ZSET   every job; score = enqueue sequence (for listing)
    conveyor:{Q}:work        channel  published when jobs become due (wakes idle workers)
    conveyor:job:<id>        channel  published when the job changes state
    conveyor:ids             HASH   job id -> queue (lookups by id; one id, one live job)
    conveyor:queues          SET    every queue ever used
    conveyor:seq             STRING the sequence that orders jobs across queues

Times come from the server (`TIME`), never from a client. Numbers are written with
string.format: Redis turns bare Lua numbers into strings with only 14 digits.
"""

from __future__ import annotations

PRELUDE = r"""
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function qkey(q, name) return 'conveyor:{' .. q .. '}:' .. name end
local function jkey(q, id) return 'conveyor:{' .. q .. '}:job:' .. id end
local FINISHED = {succeeded = true, failed = true, cancelled = true}

-- the record, with the server's time so readers can tell a due scheduled job
local function record(k, now)
  local r = redis.call('HGETALL', k)
  r[#r + 1] = '_now'
  r[#r + 1] = fmt(now)
  return r
end

local function ready_add(q, id, priority, rseq)
  if not rseq or rseq == '' then
    rseq = redis.call('INCR', 'conveyor:seq')
    redis.call('HSET', jkey(q, id), 'rseq', rseq)
  end
  local score = -tonumber(priority) * 4398046511104 + tonumber(rseq)
  redis.call('ZADD', qkey(q, 'ready'), string.format('%.0f', score), id)
  redis.call('HSET', jkey(q, id), 'state', 'queued')
end

local function unindex(q, id)
  for _, name in ipairs({'ready', 'scheduled', 'active', 'succeeded', 'failed',
                         'cancelled', 'expiry', 'all'}) do
    redis.call('ZREM', qkey(q, name), id)
  end
end

local function drop(q, id)
  unindex(q, id)
  redis.call('DEL', jkey(q, id))
  if redis.call('HGET', 'conveyor:ids', id) == q then
    redis.call('HDEL', 'conveyor:ids', id)
  end
end

-- the queue of a live job, or nil; a job whose result TTL passed is dropped on sight
local function live(id, now)
  local q = redis.call('HGET', 'conveyor:ids', id)
  if not q then return nil end
  local expires = redis.call('HGET', jkey(q, id), 'expires_at')
  if expires == false then
    if redis.call('EXISTS', jkey(q, id)) == 0 then
      redis.call('HDEL', 'conveyor:ids', id)
      return nil
    end
    return q
  end
  if expires ~= '' and tonumber(expires) <= now then
    drop(q, id)
    return nil
  end
  return q
end

local function finish(q, id, state, now)
  local k = jkey(q, id)
  redis.call('ZREM', qkey(q, 'ready'), id)
  redis.call('ZREM', qkey(q, 'scheduled'), id)
  redis.call('ZREM', qkey(q, 'active'), id)
  redis.call('HSET', k, 'state', state, 'finished_at', fmt(now), 'lease_token', '',
             'lease_expires_at', '')
  redis.call('ZADD', qkey(q, state), fmt(now), id)
  local ttl = redis.call('HGET', k, 'result_ttl')
  if state ~= 'failed' and ttl and ttl ~= '' then
    local expires = now + tonumber(ttl)
    redis.call('HSET', k, 'expires_at', fmt(expires))
    redis.call('ZADD', qkey(q, 'expiry'), fmt(expires), id)
  end
  redis.call('PUBLISH', 'conveyor:job:' .. id, state)
end

-- create a job from 10 fields at ARGV[b]: queue, id, task, priority, payload, headers,
-- max_attempts, timeout, result_ttl, delay. Returns created (0/1), record, queue.
local function create(b, now)
  local q, id = ARGV[b], ARGV[b + 1]
  local existing = live(id, now)
  if existing then
    return 0, record(jkey(existing, id), now), existing
  end
  local seq = redis.call('INCR', 'conveyor:seq')
  local delay = tonumber(ARGV[b + 9])
  local due = now + delay
  local k = jkey(q, id)
  redis.call('DEL', k)
  redis.call('HSET', k, 'id', id, 'task', ARGV[b + 2], 'queue', q, 'state', 'scheduled',
             'priority', ARGV[b + 3], 'payload', ARGV[b + 4], 'headers', ARGV[b + 5],
             'attempts', 0, 'max_attempts', ARGV[b + 6], 'recoveries', 0,
             'timeout', ARGV[b + 7], 'result_ttl', ARGV[b + 8], 'enqueued_at', fmt(now),
             'due_at', fmt(due), 'seq', seq, 'cancel_requested', 0)
  if delay > 0 then
    redis.call('ZADD', qkey(q, 'scheduled'), fmt(due), id)
  else
    ready_add(q, id, ARGV[b + 3])
    redis.call('PUBLISH', qkey(q, 'work'), '1')
  end
  redis.call('ZADD', qkey(q, 'all'), seq, id)
  redis.call('HSET', 'conveyor:ids', id, q)
  redis.call('SADD', 'conveyor:queues', q)
  return 1, record(k, now), q
end

local function promote(q, now)
  local due = redis.call('ZRANGEBYSCORE', qkey(q, 'scheduled'), '-inf', fmt(now),
                         'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    redis.call('ZREM', qkey(q, 'scheduled'), id)
    ready_add(q, id, redis.call('HGET', jkey(q, id), 'priority'))
  end
end

-- the job under this lease, if the lease still holds: its queue and key
local function held(id, token)
  local q = redis.call('HGET', 'conveyor:ids', id)
  if not q then return nil end
  local k = jkey(q, id)
  local f = redis.call('HMGET', k, 'state', 'lease_token')
  if f[1] ~= 'active' or f[2] ~= token then return nil end
  return q, k
end

local function requeue(q, id)
  local k = jkey(q, id)
  redis.call('ZREM', qkey(q, 'active'), id)
  redis.call('HSET', k, 'lease_token', '', 'lease_expires_at', '', 'worker', '')
  local f = redis.call('HMGET', k, 'priority', 'rseq')
  ready_add(q, id, f[1], f[2])
  redis.call('PUBLISH', qkey(q, 'work'), '1')
end
"""

# ARGV: count, then 10 fields per job (see `create`). Returns created, record per job.
ENQUEUE = (
    PRELUDE
    + r"""
local now = now_s()
local out = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local created, record = create(2 + i * 10, now)
  out[#out + 1] = created
  out[#out + 1] = record
end
return out
"""
)

# ARGV: token, lease seconds, worker, limit, queues... Returns claimed records in order.
CLAIM = (
    PRELUDE
    + r"""
local now = now_s()
local token, expires, worker, limit = ARGV[1], now + tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local candidates = {}
for i = 5, #ARGV do
  local q = ARGV[i]
  promote(q, now)
  local ready = redis.call('ZRANGE', qkey(q, 'ready'), 0, limit - 1, 'WITHSCORES')
  for j = 1, #ready, 2 do
    candidates[#candidates + 1] = {tonumber(ready[j + 1]), ready[j], q}
  end
end
table.sort(candidates, function(a, b) return a[1] < b[1] end)
local out = {}
for i = 1, math.min(limit, #candidates) do
  local id, q = candidates[i][2], candidates[i][3]
  local k = jkey(q, id)
  redis.call('ZREM', qkey(q, 'ready'), id)
  redis.call('HSET', k, 'state', 'active', 'lease_token', token,
             'lease_expires_at', fmt(expires), 'started_at', fmt(now), 'worker', worker)
  redis.call('HINCRBY', k, 'attempts', 1)
  redis.call('ZADD', qkey(q, 'active'), fmt(expires), id)
  out[#out + 1] = record(k, now)
end
return out
"""
)

# ARGV: lease seconds, then id, token pairs. Returns 0 (lost), 1 (held), 2 (held, cancel asked).
EXTEND = (
    PRELUDE
    + r"""
local expires = now_s() + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local q, k = held(ARGV[i], ARGV[i + 1])
  if q then
    redis.call('HSET', k, 'lease_expires_at', fmt(expires))
    redis.call('ZADD', qkey(q, 'active'), fmt(expires), ARGV[i])
    out[#out + 1] = 1 + tonumber(redis.call('HGET', k, 'cancel_requested'))
  else
    out[#out + 1] = 0
  end
end
return out
"""
)

# ARGV: count, then per ack: id, token, state, result, error, retry_in, follow-up count,
# and 10 fields per follow-up. Returns 1 (accepted) or 0 (lease lost) per ack.
ACK = (
    PRELUDE
    + r"""
local now = now_s()
local out = {}
local b = 2
for _ = 1, tonumber(ARGV[1]) do
  local id, token, state, result, err = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local retry_in, follow_ups = tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
  local q, k = held(id, token)
  if q then
    if FINISHED[state] then
      redis.call('HSET', k, 'result', result, 'error', err)
      finish(q, id, state, now)
    else
      if state == 'queued' then redis.call('HINCRBY', k, 'attempts', -1) end
      if err ~= '' then redis.call('HSET', k, 'error', err) end
      if retry_in > 0 then
        redis.call('ZREM', qkey(q, 'active'), id)
        redis.call('HSET', k, 'state', 'scheduled', 'due_at', fmt(now + retry_in),
                   'lease_token', '', 'lease_expires_at', '', 'worker', '', 'rseq', '')
        redis.call('ZADD', qkey(q, 'scheduled'), fmt(now + retry_in), id)
      elseif state == 'queued' then
        requeue(q, id)
      else
        redis.call('HSET', k, 'due_at', fmt(now), 'rseq', '')
        redis.call('ZREM', qkey(q, 'active'), id)
        redis.call('HSET', k, 'lease_token', '', 'lease_expires_at', '', 'worker', '')
        ready_add(q, id, redis.call('HGET', k, 'priority'))
        redis.call('PUBLISH', qkey(q, 'work'), '1')
      end
    end
    for f = 0, follow_ups - 1 do
      create(b + 7 + f * 10, now)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
  b = b + 7 + follow_ups * 10
end
return out
"""
)

# ARGV: per update: id, token, progress ('' keeps), message, checkpoint ('' keeps), has_checkpoint
UPDATE_RUNNING = (
    PRELUDE
    + r"""
local out = {}
for i = 1, #ARGV, 6 do
  local q, k = held(ARGV[i], ARGV[i + 1])
  if q then
    if ARGV[i + 2] ~= '' then
      redis.call('HSET', k, 'progress', ARGV[i + 2], 'progress_message', ARGV[i + 3])
      redis.call('PUBLISH', 'conveyor:job:' .. ARGV[i], 'progress')
    end
    if ARGV[i + 5] == '1' then redis.call('HSET', k, 'checkpoint', ARGV[i + 4]) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""
)

# ARGV: max recoveries, worker_lost error JSON. Returns requeued, dead, cancelled.
RECOVER = (
    PRELUDE
    + r"""
local now = now_s()
local requeued, dead, cancelled = 0, 0, 0
for _, q in ipairs(redis.call('SMEMBERS', 'conveyor:queues')) do
  local expired = redis.call('ZRANGEBYSCORE', qkey(q, 'active'), '-inf', fmt(now))
  for _, id in ipairs(expired) do
    local k = jkey(q, id)
    local f = redis.call('HMGET', k, 'cancel_requested', 'recoveries')
    if f[1] == '1' then
      finish(q, id, 'cancelled', now)
      cancelled = cancelled + 1
    elseif tonumber(f[2]) >= tonumber(ARGV[1]) then
      redis.call('HSET', k, 'error', ARGV[2])
      finish(q, id, 'failed', now)
      dead = dead + 1
    else
      redis.call('HINCRBY', k, 'recoveries', 1)
      requeue(q, id)
      requeued = requeued + 1
    end
  end
end
return {requeued, dead, cancelled}
"""
)

# ARGV: id. Returns the record after the request, or nil.
CANCEL = (
    PRELUDE
    + r"""
local now = now_s()
local id = ARGV[1]
local q = live(id, now)
if not q then return nil end
local k = jkey(q, id)
local state = redis.call('HGET', k, 'state')
if state == 'queued' or state == 'scheduled' then
  finish(q, id, 'cancelled', now)
elseif state == 'active' then
  redis.call('HSET', k, 'cancel_requested', 1)
end
return record(k, now)
"""
)

# ARGV: id. Queues a failed or cancelled job again with fresh attempts.
RETRY = (
    PRELUDE
    + r"""
local now = now_s()
local id = ARGV[1]
local q = live(id, now)
if not q then return nil end
local k = jkey(q, id)
local state = redis.call('HGET', k, 'state')
if state == 'failed' or state == 'cancelled' then
  redis.call('ZREM', qkey(q, state), id)
  redis.call('ZREM', qkey(q, 'expiry'), id)
  redis.call('HSET', k, 'attempts', 0, 'recoveries', 0, 'error', '', 'result', '',
             'finished_at', '', 'expires_at', '', 'cancel_requested', 0, 'progress', '',
             'progress_message', '', 'due_at', fmt(now), 'rseq', '')
  ready_add(q, id, redis.call('HGET', k, 'priority'))
  redis.call('PUBLISH', qkey(q, 'work'), '1')
end
return record(k, now)
"""
)

# ARGV: id. Returns the record, or nil.
GET = (
    PRELUDE
    + r"""
local now = now_s()
local q = live(ARGV[1], now)
if not q then return nil end
return record(jkey(q, ARGV[1]), now)
"""
)

# ARGV: queue. Drops expired jobs, then returns counts: ready, due scheduled, not-due
# scheduled, active, succeeded, failed, cancelled.
COUNTS = (
    PRELUDE
    + r"""
local now = now_s()
local q = ARGV[1]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', qkey(q, 'expiry'), '-inf', fmt(now))) do
  drop(q, id)
end
local scheduled = redis.call('ZCARD', qkey(q, 'scheduled'))
local due = redis.call('ZCOUNT', qkey(q, 'scheduled'), '-inf', fmt(now))
return {redis.call('ZCARD', qkey(q, 'ready')), due, scheduled - due,
        redis.call('ZCARD', qkey(q, 'active')), redis.call('ZCARD', qkey(q, 'succeeded')),
        redis.call('ZCARD', qkey(q, 'failed')), redis.call('ZCARD', qkey(q, 'cancelled'))}
"""
)

# ARGV: queue, cutoff ('' = all), states... Deletes finished jobs; returns how many.
PURGE = (
    PRELUDE
    + r"""
local q, cutoff = ARGV[1], ARGV[2]
if cutoff == '' then cutoff = '+inf' end
local n = 0
for i = 3, #ARGV do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', qkey(q, ARGV[i]), '-inf', cutoff)) do
    drop(q, id)
    n = n + 1
  end
end
return n
"""
)

# ARGV: queue. Deletes jobs whose result TTL passed; returns how many.
PURGE_EXPIRED = (
    PRELUDE
    + r"""
local now = now_s()
local q = ARGV[1]
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', qkey(q, 'expiry'), '-inf', fmt(now))) do
  drop(q, id)
  n = n + 1
end
return n
"""
)

# ARGV: queues... Returns 1 if any has a due job, and the earliest scheduled due time.
PENDING = (
    PRELUDE
    + r"""
local now = now_s()
local next_due = ''
for i = 1, #ARGV do
  local q = ARGV[i]
  if redis.call('ZCARD', qkey(q, 'ready')) > 0 then return {1, ''} end
  local first = redis.call('ZRANGE', qkey(q, 'scheduled'), 0, 0, 'WITHSCORES')
  if #first > 0 then
    local due = tonumber(first[2])
    if due <= now then return {1, ''} end
    if next_due == '' or due < tonumber(next_due) then next_due = fmt(due) end
  end
end
if next_due == '' then return {0, ''} end
return {0, fmt(tonumber(next_due) - now)}
"""
)
