"""The Lua scripts of the Redis backend: every state change is one script, one round trip.

Key layout (all under the `conveyor:` prefix, or the one the URL's `?prefix=` names; `{Q}`
is the queue's hash tag, so each queue's keys hash to one Redis Cluster slot). Redis Cluster
is not supported yet: the scripts also touch the global keys at the end of this list, and
declare no keys for routing.

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
    conveyor:job:<id>        channel  published when the job changes (state, progress)
    conveyor:ids             HASH   job id -> queue (lookups by id; one id, one live job)
    conveyor:queues          SET    every queue ever used
    conveyor:seq             STRING the sequence that orders jobs across queues
    conveyor:claim:<token>   STRING the jobs one claim leased, for its lease (a retry's answer)
    conveyor:unique:<key>    STRING the id of the last job stored with this unique key
    conveyor:limit:<key>     SET    the ids of the active jobs of this limit key
    conveyor:limits          HASH   active limited job id -> its limit key (so recovery
                                    frees the slot of a job whose record is gone)
    conveyor:rate:<key>      HASH   a rate bucket: tokens, at; it expires once full again

Times come from the server (`TIME`), never from a client. Numbers are written with
string.format, never `tostring` or `..`, which keep only 14 digits.

Redis does not roll a script back when it fails halfway, so a script reads and checks
everything before its first write: a job hash missing from under its index (evicted, say)
is skipped and unindexed, never half-moved.

What a script is paid for is the number of commands it calls, more than the work each does,
so per-job fields travel as one JSON array, records come back as one JSON object, and index
writes (sorted-set adds and removes, wake-ups) are gathered and sent once per key at the end
of the script. A script never removes a member it added to the same index, so sending the
removals before the additions keeps the order of events.
"""

from __future__ import annotations

import re

from conveyor.backends.base import LIMIT_SCAN

DEFAULT_PREFIX = "conveyor"
# letters, digits and . _ - only: a ':' or a '{' in a prefix would blur the key layout and
# the queues' hash tags. Scripts get the prefix as KEYS[1].
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


PRELUDE = (
    f"local LIMIT_SCAN = {LIMIT_SCAN}\n"
    + r"""
local P = KEYS[1]  -- the store's key prefix: one cached script serves every prefix
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function qkey(q, name) return P .. ':{' .. q .. '}:' .. name end
local function jkey(q, id) return P .. ':{' .. q .. '}:job:' .. id end
local FINISHED = {succeeded = true, failed = true, cancelled = true}
local INDEX = {queued = 'ready', scheduled = 'scheduled', active = 'active'}
local TWO_42 = 4398046511104

local adds, removals, messages, used_queues = {}, {}, {}, {}
local function push(t, key, ...)
  local list = t[key]
  if not list then list = {}; t[key] = list end
  for _, v in ipairs({...}) do list[#list + 1] = v end
end
local function zadd(key, score, id) push(adds, key, score, id) end
local function zrem(key, id) push(removals, key, id) end
local function publish(channel, message) messages[channel] = message end
local function chunked(command, key, list, step)
  for i = 1, #list, step do
    redis.call(command, key, unpack(list, i, math.min(i + step - 1, #list)))
  end
end
local function flush()
  for key, ids in pairs(removals) do chunked('ZREM', key, ids, 4000) end
  for key, pairs_ in pairs(adds) do chunked('ZADD', key, pairs_, 4000) end
  for q in pairs(used_queues) do redis.call('SADD', P .. ':queues', q) end
  for channel, message in pairs(messages) do redis.call('PUBLISH', channel, message) end
  adds, removals, messages, used_queues = {}, {}, {}, {}
end

-- job order in a queue: higher priority first, then older, by a sequence shared by all
-- queues. A batch reserves what it needs in one INCRBY; the score keeps 2^42 of them exact.
local seq_at, seq_end = 0, 0
local function reserve_seqs(n)
  seq_end = redis.call('INCRBY', P .. ':seq', n)
  seq_at = seq_end - n
end
local function next_seq()
  if seq_at >= seq_end then reserve_seqs(1) end
  seq_at = seq_at + 1
  return seq_at
end
local function ready_score(priority, rseq)
  return string.format('%.0f', -tonumber(priority) * TWO_42 + tonumber(rseq))
end

local function as_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
-- the record as JSON, with the server's time so readers can tell a due scheduled job
local function encode(t, now)
  t._now = fmt(now)
  return cjson.encode(t)
end
local function record(k, now) return encode(as_table(redis.call('HGETALL', k)), now) end

local function hset(k, fields) redis.call('HSET', k, unpack(fields)) end

-- make a job ready: `fields` are written along with its state in the same HSET
local function ready_add(q, id, priority, rseq, fields)
  if not rseq or rseq == '' then
    rseq = next_seq()
    fields[#fields + 1] = 'rseq'
    fields[#fields + 1] = rseq
  end
  fields[#fields + 1] = 'state'
  fields[#fields + 1] = 'queued'
  hset(jkey(q, id), fields)
  zadd(qkey(q, 'ready'), ready_score(priority, rseq), id)
  publish(qkey(q, 'work'), '1')
end

local function drop(q, id)
  flush()  -- writes gathered earlier in this script come first
  for _, name in ipairs({'ready', 'scheduled', 'active', 'succeeded', 'failed',
                         'cancelled', 'expiry', 'all'}) do
    redis.call('ZREM', qkey(q, name), id)
  end
  local unique = redis.call('HGET', jkey(q, id), 'unique_key')
  if unique and unique ~= '' and redis.call('GET', P .. ':unique:' .. unique) == id then
    redis.call('DEL', P .. ':unique:' .. unique)
  end
  redis.call('DEL', jkey(q, id))
  if redis.call('HGET', P .. ':ids', id) == q then
    redis.call('HDEL', P .. ':ids', id)
  end
end

-- the queue of a live job, or nil; a job whose result TTL passed is dropped on sight
local function live(id, now)
  local q = redis.call('HGET', P .. ':ids', id)
  if not q then return nil end
  local expires = redis.call('HGET', jkey(q, id), 'expires_at')
  if expires == false then
    if redis.call('EXISTS', jkey(q, id)) == 0 then
      redis.call('HDEL', P .. ':ids', id)
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

-- end a job that was `from` (queued, scheduled or active); `fields` are written along
local function finish(q, id, from, state, now, ttl, fields)
  zrem(qkey(q, INDEX[from]), id)
  local at = fmt(now)
  for _, v in ipairs({'state', state, 'finished_at', at, 'lease_token', '',
                      'lease_expires_at', ''}) do
    fields[#fields + 1] = v
  end
  if state ~= 'failed' and ttl and ttl ~= '' then
    local expires = fmt(now + tonumber(ttl))
    fields[#fields + 1] = 'expires_at'
    fields[#fields + 1] = expires
    zadd(qkey(q, 'expiry'), expires, id)
  end
  hset(jkey(q, id), fields)
  zadd(qkey(q, state), at, id)
  publish(P .. ':job:' .. id, state)
end

-- whether the job `id` still holds its unique key (see JobRecord.holds_unique_key)
local function holds_key(id, now)
  local q = live(id, now)
  if not q then return nil end
  local f = redis.call('HMGET', jkey(q, id), 'state', 'attempts', 'enqueued_at',
                       'unique_until', 'unique_for')
  if f[5] and f[5] ~= '' then return now < tonumber(f[3]) + tonumber(f[5]) and q end
  if f[4] == 'started' then
    return (f[1] == 'queued' or f[1] == 'scheduled') and tonumber(f[2]) == 0 and q
  end
  return not FINISHED[f[1]] and q
end

-- concurrency limits: a slot is an id in its key's set, taken by a claim, freed on every
-- way out of active
local function lkey(lk) return P .. ':limit:' .. lk end
local function take_slot(id, lk)
  redis.call('SADD', lkey(lk), id)
  redis.call('HSET', P .. ':limits', id, lk)
end
local function free_slot(q, id, lk)
  if not lk or lk == '' then return end
  redis.call('SREM', lkey(lk), id)
  redis.call('HDEL', P .. ':limits', id)
  publish(qkey(q, 'work'), '1')  -- a job held back by this key may run now
end
local function full(lk, limit)
  return lk and lk ~= '' and redis.call('SCARD', lkey(lk)) >= tonumber(limit)
end

-- rate limits: a token bucket per rate key (see base.bucket_tokens)
local function rkey(rk) return P .. ':rate:' .. rk end
local function bucket_tokens(rk, rate, period, now)
  rate = tonumber(rate)
  local b = redis.call('HMGET', rkey(rk), 'tokens', 'at')
  if not b[1] then return rate end
  local refill = math.max(0, now - tonumber(b[2])) * rate / tonumber(period)
  return math.min(rate, tonumber(b[1]) + refill)
end
local function save_bucket(rk, tokens, period, now)
  redis.call('HSET', rkey(rk), 'tokens', fmt(tokens), 'at', fmt(now))
  -- a bucket left alone for a period is full again: as good as none
  redis.call('PEXPIRE', rkey(rk), math.ceil(tonumber(period) * 1000))
end

-- create a job from its JSON array: queue, id, task, priority, payload, headers,
-- max_attempts, timeout, result_ttl, delay, unique_key, unique_until, unique_for,
-- limit_key, limit, rate_key, rate_limit, rate_period.
-- Returns nil, or the record of the live job with that id or holding that unique key.
local function create(job, now)
  local q, id = job[1], job[2]
  local existing = live(id, now)
  if existing then return record(jkey(existing, id), now) end
  local unique = job[11]
  if unique ~= '' then
    local holder = redis.call('GET', P .. ':unique:' .. unique)
    local held = holder and holds_key(holder, now)
    if held then return record(jkey(held, holder), now) end
    redis.call('SET', P .. ':unique:' .. unique, id)
  end
  local seq = next_seq()
  local delay = tonumber(job[10])
  local due = now + delay
  local fields = {'id', id, 'task', job[3], 'queue', q, 'priority', job[4],
                  'payload', job[5], 'headers', job[6], 'attempts', 0,
                  'max_attempts', job[7], 'recoveries', 0, 'timeout', job[8],
                  'result_ttl', job[9], 'enqueued_at', fmt(now), 'due_at', fmt(due),
                  'seq', seq, 'cancel_requested', 0, 'unique_key', unique,
                  'unique_until', job[12], 'unique_for', job[13], 'limit_key', job[14],
                  'limit', job[15], 'rate_key', job[16], 'rate_limit', job[17],
                  'rate_period', job[18]}
  if delay > 0 then
    fields[#fields + 1] = 'state'
    fields[#fields + 1] = 'scheduled'
    hset(jkey(q, id), fields)
    zadd(qkey(q, 'scheduled'), fmt(due), id)
    publish(qkey(q, 'work'), 'scheduled')  -- an idle worker sets its alarm by it
  else
    fields[#fields + 1] = 'rseq'
    fields[#fields + 1] = seq
    ready_add(q, id, job[4], seq, fields)
  end
  zadd(qkey(q, 'all'), seq, id)
  redis.call('HSET', P .. ':ids', id, q)
  used_queues[q] = true
  return nil
end

-- scheduled jobs whose time has come join the ready set, in the order they became due
local function promote(q, now)
  local due = redis.call('ZRANGEBYSCORE', qkey(q, 'scheduled'), '-inf', fmt(now),
                         'LIMIT', 0, 1000)
  if #due == 0 then return end
  local priorities = {}
  for i, id in ipairs(due) do priorities[i] = redis.call('HGET', jkey(q, id), 'priority') end
  reserve_seqs(#due)
  for i, id in ipairs(due) do
    zrem(qkey(q, 'scheduled'), id)
    if priorities[i] then ready_add(q, id, priorities[i], nil, {}) end
  end
  flush()
end

-- the job under this lease, if the lease still holds: its queue, key and the fields
-- state, lease_token, cancel_requested, result_ttl, attempts, priority, rseq, limit_key
local function held(id, token)
  local q = redis.call('HGET', P .. ':ids', id)
  if not q then return nil end
  local k = jkey(q, id)
  local f = redis.call('HMGET', k, 'state', 'lease_token', 'cancel_requested', 'result_ttl',
                       'attempts', 'priority', 'rseq', 'limit_key')
  if f[1] ~= 'active' or f[2] ~= token then return nil end
  return q, k, f
end

-- hand an active job back to its queue: with its old `rseq` it keeps its place, with nil
-- it goes behind the jobs waiting
local function requeue(q, id, priority, rseq, fields)
  zrem(qkey(q, 'active'), id)
  for _, v in ipairs({'lease_token', '', 'lease_expires_at', '', 'worker', ''}) do
    fields[#fields + 1] = v
  end
  ready_add(q, id, priority, rseq, fields)
  publish(P .. ':job:' .. id, 'queued')
end
"""
)

# ARGV: one JSON array per job (see `create`). Returns the server time, then per job
# 1 (created) or the record of the live job with that id.
ENQUEUE = (
    PRELUDE
    + r"""
local now = now_s()
local out = {fmt(now)}
local jobs = {}
for i = 1, #ARGV do jobs[i] = cjson.decode(ARGV[i]) end
-- jobs that came due go first, so a queue stays in order of due time
local promoted = {}
for _, job in ipairs(jobs) do
  if not promoted[job[1]] then
    promote(job[1], now)
    promoted[job[1]] = true
  end
end
reserve_seqs(#jobs)
for _, job in ipairs(jobs) do
  out[#out + 1] = create(job, now) or 1
end
flush()
return out
"""
)

# ARGV: token, lease seconds, worker, limit, queues... Returns claimed records in order.
# The token is new for each claim; a receipt under it, kept for the lease, makes a claim
# sent twice (a retry after a lost reply) lease its jobs once.
CLAIM = (
    PRELUDE
    + r"""
local now = now_s()
local token, worker, limit = ARGV[1], ARGV[3], tonumber(ARGV[4])
local expires = fmt(now + tonumber(ARGV[2]))
local receipt = P .. ':claim:' .. token

-- this claim ran already and its reply was lost on the way: the same jobs again, no more
local taken = redis.call('GET', receipt)
if taken then
  local out = {}
  for _, job in ipairs(cjson.decode(taken)) do
    local t = as_table(redis.call('HGETALL', jkey(job[1], job[2])))
    if t.state == 'active' and t.lease_token == token then out[#out + 1] = encode(t, now) end
  end
  return out
end

for i = 5, #ARGV do promote(ARGV[i], now) end
local records = {}  -- id -> its record, read once however many looks
local periods = {}  -- rate key -> its period
local function read(q, id)
  local t = records[id]
  if not t then
    t = as_table(redis.call('HGETALL', jkey(q, id)))
    records[id] = t
  end
  return t
end

-- the ready jobs to take, best first, looking `depth` deep into each queue; the stale
-- index entries met; the tokens left in the buckets met; and whether a job was held back
-- by its limits. It only reads: the writes come after the choice is final.
local function choose(depth)
  local candidates = {}
  for i = 5, #ARGV do
    local q = ARGV[i]
    local ready = redis.call('ZRANGE', qkey(q, 'ready'), 0, depth - 1, 'WITHSCORES')
    for j = 1, #ready, 2 do
      candidates[#candidates + 1] = {tonumber(ready[j + 1]), ready[j], q}
    end
  end
  if #ARGV > 5 then
    table.sort(candidates, function(a, b) return a[1] < b[1] end)
  end
  local picks, stale, in_use, tokens, held_back = {}, {}, {}, {}, false
  for _, c in ipairs(candidates) do
    if #picks >= limit then break end
    local id, q = c[2], c[3]
    local t = read(q, id)
    if t.state ~= 'queued' then
      stale[#stale + 1] = {q, id}
    else
      local lk, rk = t.limit_key, t.rate_key
      local limited, rated = lk and lk ~= '', rk and rk ~= ''
      local free = true
      if limited then
        in_use[lk] = in_use[lk] or redis.call('SCARD', lkey(lk))
        free = in_use[lk] < tonumber(t.limit)
      end
      if free and rated then
        tokens[rk] = tokens[rk] or bucket_tokens(rk, t.rate_limit, t.rate_period, now)
        periods[rk] = t.rate_period
        free = tokens[rk] >= 1
      end
      if free then
        if limited then in_use[lk] = in_use[lk] + 1 end
        if rated then tokens[rk] = tokens[rk] - 1 end
        picks[#picks + 1] = {q, id, t, limited}
      else
        held_back = true
      end
    end
  end
  return picks, stale, tokens, held_back
end

local picks, stale, tokens, held_back = choose(limit)
-- look past held-back jobs, boundedly: what waits behind them takes its turn, before
-- another queue's later jobs too
if held_back and (#picks < limit or #ARGV > 5) then
  picks, stale, tokens = choose(limit + LIMIT_SCAN)
end
for rk, left in pairs(tokens) do save_bucket(rk, left, periods[rk], now) end
for _, entry in ipairs(stale) do zrem(qkey(entry[1], 'ready'), entry[2]) end
local out = {}
taken = {}
local started = fmt(now)
for _, pick in ipairs(picks) do
  local q, id, t = pick[1], pick[2], pick[3]
  if pick[4] then take_slot(id, t.limit_key) end
  t.attempts = string.format('%d', tonumber(t.attempts) + 1)
  redis.call('HSET', jkey(q, id), 'state', 'active', 'attempts', t.attempts,
             'lease_token', token, 'lease_expires_at', expires, 'started_at', started,
             'worker', worker)
  t.state, t.lease_token, t.lease_expires_at, t.started_at, t.worker =
    'active', token, expires, started, worker
  zrem(qkey(q, 'ready'), id)
  zadd(qkey(q, 'active'), expires, id)
  publish(P .. ':job:' .. id, 'active')
  out[#out + 1] = encode(t, now)
  taken[#taken + 1] = {q, id}
end
flush()
if #taken > 0 then
  redis.call('SET', receipt, cjson.encode(taken), 'PX', math.ceil(tonumber(ARGV[2]) * 1000))
end
return out
"""
)

# ARGV: lease seconds, then id, token pairs. Returns 0 (lost), 1 (held), 2 (held, cancel asked).
EXTEND = (
    PRELUDE
    + r"""
local expires = fmt(now_s() + tonumber(ARGV[1]))
local out = {}
for i = 2, #ARGV, 2 do
  local q, k, f = held(ARGV[i], ARGV[i + 1])
  if q then
    redis.call('HSET', k, 'lease_expires_at', expires)
    zadd(qkey(q, 'active'), expires, ARGV[i])
    out[#out + 1] = 1 + tonumber(f[3])
  else
    out[#out + 1] = 0
  end
end
flush()
return out
"""
)

# ARGV: one JSON array per ack: id, token, state, result, error, retry_in, follow-ups (each
# a job array, see `create`). Returns 1 (accepted) or 0 (lease lost) per ack.
ACK = (
    PRELUDE
    + r"""
local now = now_s()
local out = {}
for i = 1, #ARGV do
  local a = cjson.decode(ARGV[i])
  local id, state, result, err, retry_in = a[1], a[3], a[4], a[5], tonumber(a[6])
  local q, k, f = held(id, a[2])
  if q then
    free_slot(q, id, f[8])  -- every ack takes the job out of active
    if FINISHED[state] then
      finish(q, id, 'active', state, now, f[4], {'result', result, 'error', err})
    else
      local fields = {}
      if state == 'queued' then  -- handed back unrun: the attempt does not count
        fields = {'attempts', tonumber(f[5]) - 1}
      end
      if err ~= '' then
        fields[#fields + 1] = 'error'
        fields[#fields + 1] = err
      end
      if retry_in > 0 then
        zrem(qkey(q, 'active'), id)
        for _, v in ipairs({'state', 'scheduled', 'due_at', fmt(now + retry_in),
                            'lease_token', '', 'lease_expires_at', '', 'worker', '',
                            'rseq', ''}) do
          fields[#fields + 1] = v
        end
        hset(k, fields)
        zadd(qkey(q, 'scheduled'), fmt(now + retry_in), id)
        publish(P .. ':job:' .. id, 'scheduled')
        publish(qkey(q, 'work'), 'scheduled')
      else  -- handed back unrun, or a retry due now: behind the jobs already waiting
        fields[#fields + 1] = 'due_at'
        fields[#fields + 1] = fmt(now)
        requeue(q, id, f[6], nil, fields)
      end
    end
    for _, job in ipairs(a[7]) do create(job, now) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush()
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
      redis.call('PUBLISH', P .. ':job:' .. ARGV[i], 'progress')
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

# ARGV: max recoveries, worker_lost error JSON, batch. Returns requeued, dead, cancelled,
# and 1 when a queue had more expired leases than the batch (call again).
RECOVER = (
    PRELUDE
    + r"""
local now = now_s()
local batch = tonumber(ARGV[3])
local requeued, dead, cancelled, more = 0, 0, 0, 0
for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
  local expired = redis.call('ZRANGEBYSCORE', qkey(q, 'active'), '-inf', fmt(now),
                             'LIMIT', 0, batch)
  if #expired == batch then more = 1 end
  for _, id in ipairs(expired) do
    local f = redis.call('HMGET', jkey(q, id), 'cancel_requested', 'recoveries', 'result_ttl',
                         'priority', 'rseq', 'limit_key')
    free_slot(q, id, f[6] or redis.call('HGET', P .. ':limits', id))
    if not f[2] then
      zrem(qkey(q, 'active'), id)  -- its record is gone: nothing to recover but its slot
    elseif f[1] == '1' then
      finish(q, id, 'active', 'cancelled', now, f[3], {})
      cancelled = cancelled + 1
    elseif tonumber(f[2]) >= tonumber(ARGV[1]) then
      finish(q, id, 'active', 'failed', now, nil, {'error', ARGV[2]})
      dead = dead + 1
    else
      requeue(q, id, f[4], f[5], {'recoveries', tonumber(f[2]) + 1})
      requeued = requeued + 1
    end
  end
end
flush()
return {requeued, dead, cancelled, more}
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
local f = redis.call('HMGET', k, 'state', 'result_ttl')
if f[1] == 'queued' or f[1] == 'scheduled' then
  finish(q, id, f[1], 'cancelled', now, f[2], {})
elseif f[1] == 'active' then
  redis.call('HSET', k, 'cancel_requested', 1)
end
flush()
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
  zrem(qkey(q, state), id)
  zrem(qkey(q, 'expiry'), id)
  ready_add(q, id, redis.call('HGET', k, 'priority'), nil,
            {'attempts', 0, 'recoveries', 0, 'error', '', 'result', '', 'finished_at', '',
             'expires_at', '', 'cancel_requested', 0, 'progress', '', 'progress_message', '',
             'due_at', fmt(now)})
  publish(P .. ':job:' .. id, 'queued')
end
flush()
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

# ARGV: queue. Returns counts: ready, due scheduled, not-due scheduled, active, succeeded,
# failed, cancelled (expired jobs are purged first, by the caller).
COUNTS = (
    PRELUDE
    + r"""
local now = now_s()
local q = ARGV[1]
local scheduled = redis.call('ZCARD', qkey(q, 'scheduled'))
local due = redis.call('ZCOUNT', qkey(q, 'scheduled'), '-inf', fmt(now))
return {redis.call('ZCARD', qkey(q, 'ready')), due, scheduled - due,
        redis.call('ZCARD', qkey(q, 'active')), redis.call('ZCARD', qkey(q, 'succeeded')),
        redis.call('ZCARD', qkey(q, 'failed')), redis.call('ZCARD', qkey(q, 'cancelled'))}
"""
)

# ARGV: queue. Returns the queue's backlog: ready, due scheduled, not-due scheduled, active,
# failed, and the age in seconds of its oldest due job ('' when none). Ready jobs are
# ordered by priority, then by when they became ready, so the oldest due job is the head of
# one priority level (within the lag of promotion): one look per level in use, however many
# jobs wait, and never one at the finished jobs.
BACKLOG = (
    PRELUDE
    + r"""
local now = now_s()
local q = ARGV[1]
local ready = qkey(q, 'ready')
local oldest = nil
local function saw(due)
  if due and (not oldest or due < oldest) then oldest = due end
end
local from = '-inf'
while true do
  local head = redis.call('ZRANGEBYSCORE', ready, from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #head == 0 then break end
  saw(tonumber(redis.call('HGET', jkey(q, head[1]), 'due_at')))
  -- a score is (-priority) * 2^42 + sequence: the next level starts at the next multiple
  from = string.format('%.0f', (math.floor(tonumber(head[2]) / TWO_42) + 1) * TWO_42)
end
local first = redis.call('ZRANGE', qkey(q, 'scheduled'), 0, 0, 'WITHSCORES')
if #first > 0 and tonumber(first[2]) <= now then saw(tonumber(first[2])) end
local scheduled = redis.call('ZCARD', qkey(q, 'scheduled'))
local due = redis.call('ZCOUNT', qkey(q, 'scheduled'), '-inf', fmt(now))
return {redis.call('ZCARD', ready), due, scheduled - due, redis.call('ZCARD', qkey(q, 'active')),
        redis.call('ZCARD', qkey(q, 'failed')), oldest and fmt(now - oldest) or ''}
"""
)

# ARGV: queue, cutoff ('' = all), batch, states... Deletes up to `batch` finished jobs;
# returns how many (a full batch: call again).
PURGE = (
    PRELUDE
    + r"""
local q, cutoff, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
if cutoff == '' then cutoff = '+inf' end
local n = 0
for i = 4, #ARGV do
  local ids = redis.call('ZRANGEBYSCORE', qkey(q, ARGV[i]), '-inf', cutoff, 'LIMIT', 0, batch - n)
  for _, id in ipairs(ids) do
    drop(q, id)
    n = n + 1
  end
  if n >= batch then break end
end
return n
"""
)

# ARGV: queue, batch. Deletes up to `batch` jobs whose result TTL passed; returns how many.
PURGE_EXPIRED = (
    PRELUDE
    + r"""
local now = now_s()
local q = ARGV[1]
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', qkey(q, 'expiry'), '-inf', fmt(now),
                               'LIMIT', 0, tonumber(ARGV[2]))) do
  drop(q, id)
  n = n + 1
end
return n
"""
)

# ARGV: ids... Returns each live job's record, or nil, in order.
GET_MANY = (
    PRELUDE
    + r"""
local now = now_s()
local out = {}
for i = 1, #ARGV do
  local q = live(ARGV[i], now)
  out[i] = q and record(jkey(q, ARGV[i]), now) or false
end
return out
"""
)

# ARGV: queues... Returns 1 if any has a due job, and the earliest scheduled due time.
PENDING = (
    PRELUDE
    + r"""
local now = now_s()
-- whether a claim would take one of the queue's ready jobs: held-back jobs are not work
local function runnable(q)
  for _, id in ipairs(redis.call('ZRANGE', qkey(q, 'ready'), 0, LIMIT_SCAN)) do
    local f = redis.call('HMGET', jkey(q, id), 'limit_key', 'limit', 'rate_key', 'rate_limit',
                         'rate_period')
    local rated = f[3] and f[3] ~= ''
    if not full(f[1], f[2]) and not (rated and bucket_tokens(f[3], f[4], f[5], now) < 1) then
      return true
    end
  end
  return false
end
local next_due = ''
for i = 1, #ARGV do
  local q = ARGV[i]
  if runnable(q) then return {1, ''} end
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
