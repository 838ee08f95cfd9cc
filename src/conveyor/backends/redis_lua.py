"""The Lua scripts of the Redis backend: every state change is one script, one round trip.

Key layout (all under the `conveyor:` prefix, or the one the URL's `?prefix=` names; `{Q}`
is the queue's hash tag). On a Redis Cluster the prefix is written `{conveyor}`: being the
first hash tag of every key, it puts the whole store in one slot, so the scripts may touch the
global keys at the end of this list. They get the prefix as their one declared key, which
routes them to that slot.

    conveyor:{Q}:job:<id>    HASH   the job record
    conveyor:{Q}:ready       ZSET   due jobs; score (-priority) * 2^42 + sequence
    conveyor:{Q}:scheduled   ZSET   jobs not due yet; score = due time
    conveyor:{Q}:active      ZSET   claimed jobs; score = lease expiry
    conveyor:{Q}:live        ZSET   the jobs above (not finished); score = enqueue sequence
    conveyor:{Q}:succeeded   ZSET   \
    conveyor:{Q}:failed      ZSET    } finished jobs; score = enqueue sequence
    conveyor:{Q}:cancelled   ZSET   /
    conveyor:{Q}:expiry      ZSET   finished jobs with a result TTL; score = expiry time
    conveyor:{Q}:paused      STRING present while the queue is paused (claims skip it)
    conveyor:{Q}:outcomes:<hour>  HASH  acks per minute of that hour (epoch seconds of its
                                    start): field "<minute> <outcome> <task>" -> count;
                                    expires OUTCOME_RETENTION after the hour ends
    conveyor:{Q}:work        channel  published when jobs become due (wakes idle workers)
    conveyor:{Q}:offers      ZSET   idle workers' offers to take its next job; score = when
                                    the offer lapses (see OFFER)
    conveyor:offer:<token>   HASH   an offer's worker and lease seconds; gone once taken
    conveyor:hand:<token>    channel  the job an enqueue leased to the worker of that offer
    conveyor:job:<id>        channel  published when the job changes (state, progress)
    conveyor:ids             HASH   job id -> queue (lookups by id; one id, one live job)
    conveyor:queues          SET    every queue ever used (or paused)
    conveyor:seq             STRING the sequence that orders jobs across queues
    conveyor:claim:<token>   STRING the jobs one claim leased, for its lease (a retry's answer)
    conveyor:unique:<key>    STRING the id of the last job stored with this unique key
    conveyor:limit:<key>     SET    the ids of the active jobs of this limit key
    conveyor:limits          HASH   active limited job id -> its limit key (so recovery
                                    frees the slot of a job whose record is gone)
    conveyor:rate:<key>      HASH   a rate bucket: tokens, at; it expires once full again
    conveyor:workers         HASH   worker name -> "<last seen> <expires at> <its JSON>"

Every job is in exactly one index in enqueue order, `live` or its finished state's: a
listing reads them newest first and merges them across queues, so its cost follows the page
asked for, not the history kept. A purge by age walks a finished state from its oldest job
and stops at the first one enqueued after the cutoff (none of those can have finished
before it).

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

from conveyor.backends.base import COUNTED_OUTCOMES, LIMIT_SCAN, OUTCOME_RETENTION
from conveyor.backends.history import LEASE_EXPIRED, MAX_HISTORY

DEFAULT_PREFIX = "conveyor"
# letters, digits and . _ - only: a ':' or a '{' in a prefix would blur the key layout and
# the queues' hash tags. Scripts get the prefix as KEYS[1].
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# an active or scheduled state of a queue with at most this many jobs is listed by reading
# them all and sorting, instead of walking the queue's live jobs
PAGE_SORT_LIMIT = 1000


# the outcome an ack counts as, by the state it leaves the job in
_OUTCOMES = ", ".join(f"{state.value} = '{name}'" for state, name in COUNTED_OUTCOMES.items())

PRELUDE = (
    f"local LIMIT_SCAN = {LIMIT_SCAN}\n"
    f"local OUTCOME = {{{_OUTCOMES}}}\n"
    f"local OUTCOME_RETENTION = {int(OUTCOME_RETENTION)}\n"
    f"local MAX_HISTORY = {MAX_HISTORY}\n"
    f"local LEASE_EXPIRED = '{LEASE_EXPIRED}'\n"
    + r"""
local P = KEYS[1]  -- the store's key prefix: one cached script serves every prefix
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function qkey(q, name) return P .. ':{' .. q .. '}:' .. name end
local function jkey(q, id) return P .. ':{' .. q .. '}:job:' .. id end
local function paused(q) return redis.call('EXISTS', qkey(q, 'paused')) == 1 end
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
  for _, name in ipairs({'ready', 'scheduled', 'active', 'live', 'succeeded', 'failed',
                         'cancelled', 'expiry'}) do
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

-- end a job that was `from` (queued, scheduled or active); `fields` are written along.
-- `seq` is the job's enqueue sequence: its place in its new state's index.
local function finish(q, id, from, state, now, ttl, seq, fields)
  zrem(qkey(q, INDEX[from]), id)
  zrem(qkey(q, 'live'), id)
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
  zadd(qkey(q, state), seq or 0, id)
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
  zadd(qkey(q, 'live'), seq, id)
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

-- a job's history (its JSON field) with the attempt it is in appended, ended now, the last
-- MAX_HISTORY kept; times as the strings the job's fields hold them, to the microsecond
local function appended(history, attempts, worker, started_at, outcome, now, note)
  local h = {}
  if history and history ~= '' then h = cjson.decode(history) end
  if #h >= MAX_HISTORY then table.remove(h, 1) end
  h[#h + 1] = {number = tonumber(attempts), worker = worker or nil,
               started_at = started_at or nil, ended_at = fmt(now), outcome = outcome,
               error = (note and note ~= '') and note or nil}
  return cjson.encode(h)
end

-- the job under this lease, if the lease still holds: its queue, key and the fields
-- state, lease_token, cancel_requested, result_ttl, attempts, priority, rseq, limit_key,
-- task, seq, then the `extra` ones asked for (an ack reads the history it appends to; a
-- heartbeat has no use for it)
local function held(id, token, extra)
  local q = redis.call('HGET', P .. ':ids', id)
  if not q then return nil end
  local k = jkey(q, id)
  local f = redis.call('HMGET', k, 'state', 'lease_token', 'cancel_requested', 'result_ttl',
                       'attempts', 'priority', 'rseq', 'limit_key', 'task', 'seq',
                       unpack(extra or {}))
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
#
# It is on the path of every web request that enqueues, so the common batch (new ids, no
# unique key, no scheduled job of its queues come due) is stored by a few commands of its
# own: TIME, a look at each queue's scheduled jobs, an HSETNX per id (which checks that no
# job has it and claims it in one command), INCRBY, PUBSUB NUMSUB (does an idle worker wait
# on the queue? then it is handed the job, see OFFER, or woken), then one write per job
# and per index.
# Anything else runs `general`, the full path with every helper of the prelude, whose
# functions cost their creation on each run and so are only made when needed. An id the
# quick path claimed before it turned back has no record yet: `live` drops such entries.
ENQUEUE = (
    r"""
local jobs = {}
for i = 1, #ARGV do jobs[i] = cjson.decode(ARGV[i]) end

local function general()
"""
    + PRELUDE
    + r"""
  local now = now_s()
  local out = {fmt(now)}
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
end

local P = KEYS[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local at = string.format('%.6f', now)
local queues = {}
for _, job in ipairs(jobs) do
  if job[11] ~= '' then return general() end  -- a unique key
  if not queues[job[1]] then
    queues[job[1]] = true
    queues[#queues + 1] = job[1]
  end
end
for _, q in ipairs(queues) do
  local due = redis.call('ZRANGEBYSCORE', P .. ':{' .. q .. '}:scheduled', '-inf', at,
                         'LIMIT', 0, 1)
  if #due > 0 then return general() end  -- promoted first, to keep the queue's order
end
for _, job in ipairs(jobs) do
  if redis.call('HSETNX', P .. ':ids', job[2], job[1]) == 0 then return general() end
end

local seq = redis.call('INCRBY', P .. ':seq', #jobs) - #jobs
-- the fields a job often leaves empty, by place in its array: stored only when set (an
-- absent field reads as an empty one everywhere), a third fewer for a plain job
local OPTIONAL = {[6] = 'headers', [8] = 'timeout', [9] = 'result_ttl', [12] = 'unique_until',
                  [13] = 'unique_for', [14] = 'limit_key', [15] = 'limit', [16] = 'rate_key',
                  [17] = 'rate_limit', [18] = 'rate_period'}
-- whether idle workers wait on each queue (see OFFER): only then are offers looked at, and
-- only then is a wake-up published
local listened = {}
local channels = {}
for i, q in ipairs(queues) do channels[i] = P .. ':{' .. q .. '}:work' end
local counts = redis.call('PUBSUB', 'NUMSUB', unpack(channels))
for i, q in ipairs(queues) do listened[q] = counts[2 * i] > 0 end

-- an idle worker's offer to take the next job of queue q: its token, worker and lease
-- seconds. Only while the queue is not paused and holds no ready job (so the job handed
-- over is the one a claim would take), and only to a worker still subscribed to its
-- hand-over channel. An offer taken or stale is deleted; its entries in the worker's other
-- queues are dropped when met (or when the worker withdraws them).
local closed = {}
local function offer(q)
  if closed[q] or not listened[q] then return nil end
  local qk = P .. ':{' .. q .. '}:'
  if redis.call('EXISTS', qk .. 'paused') == 1 or redis.call('ZCARD', qk .. 'ready') > 0 then
    closed[q] = true
    return nil
  end
  while true do
    local first = redis.call('ZRANGEBYSCORE', qk .. 'offers', at, '+inf', 'LIMIT', 0, 1)
    if #first == 0 then
      closed[q] = true
      return nil
    end
    local token = first[1]
    redis.call('ZREM', qk .. 'offers', token)
    local key = P .. ':offer:' .. token
    local o = redis.call('HMGET', key, 'worker', 'lease')
    if o[1] then
      redis.call('DEL', key)
      if redis.call('PUBSUB', 'NUMSUB', P .. ':hand:' .. token)[2] > 0 then
        return token, o[1], o[2]
      end
    end
  end
end

local out = {at}
local indexes, woken = {}, {}
local function index(q, name, score, id)
  local key = P .. ':{' .. q .. '}:' .. name
  local list = indexes[key]
  if not list then
    list = {}
    indexes[key] = list
  end
  list[#list + 1] = score
  list[#list + 1] = id
end
for _, job in ipairs(jobs) do
  seq = seq + 1
  local q, id = job[1], job[2]
  local s = string.format('%.0f', seq)
  local delay = tonumber(job[10])
  local fields = {'id', id, 'task', job[3], 'queue', q, 'priority', job[4],
                  'payload', job[5], 'attempts', '0', 'max_attempts', job[7],
                  'recoveries', '0', 'enqueued_at', at, 'seq', s, 'cancel_requested', '0'}
  local n = #fields
  for i, name in pairs(OPTIONAL) do
    if job[i] ~= '' then
      fields[n + 1], fields[n + 2] = name, job[i]
      n = n + 2
    end
  end
  local token, worker, lease
  if delay <= 0 and job[14] == '' and job[16] == '' then token, worker, lease = offer(q) end
  if delay > 0 then
    local due = string.format('%.6f', now + delay)
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] =
      'due_at', due, 'state', 'scheduled'
    index(q, 'scheduled', due, id)
    woken[q] = woken[q] or 'scheduled'  -- an idle worker sets its alarm by it
  elseif token then  -- leased to the idle worker as its claim would, and sent to it
    local expires = string.format('%.6f', now + tonumber(lease))
    local more = {'due_at', at, 'rseq', s, 'state', 'active', 'attempts', '1',
                  'lease_token', token, 'lease_expires_at', expires, 'started_at', at,
                  'worker', worker}
    for i = 1, #more do fields[n + i] = more[i] end
    index(q, 'active', expires, id)
    local t = {}
    for i = 1, #fields, 2 do t[fields[i]] = fields[i + 1] end
    t._now = at
    redis.call('HSET', P .. ':{' .. q .. '}:job:' .. id, unpack(fields))
    redis.call('PUBLISH', P .. ':hand:' .. token, cjson.encode(t))
  else
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4], fields[n + 5],
      fields[n + 6] = 'due_at', at, 'rseq', s, 'state', 'queued'
    index(q, 'ready', string.format('%.0f', -tonumber(job[4]) * 4398046511104 + seq), id)
    woken[q] = '1'
    closed[q] = true  -- the jobs after it would jump ahead of it
  end
  if not token then redis.call('HSET', P .. ':{' .. q .. '}:job:' .. id, unpack(fields)) end
  index(q, 'live', s, id)
  out[#out + 1] = 1
end
for key, list in pairs(indexes) do
  for i = 1, #list, 4000 do
    redis.call('ZADD', key, unpack(list, i, math.min(i + 3999, #list)))
  end
end
redis.call('SADD', P .. ':queues', unpack(queues))
for q, message in pairs(woken) do
  if listened[q] then redis.call('PUBLISH', P .. ':{' .. q .. '}:work', message) end
end
return out
"""
)

# ARGV: token, lease seconds, worker, limit, then a queue and its weight for each queue.
# Returns the claimed records, best first. The claim is shared between the queues with
# ready work by weight (conveyor.fair_share, whose `fill` this follows): a few commands per
# queue asked, then reads of the jobs it takes, however long the queues.
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

-- the queues with ready work, up to `wanted` of them (conveyor.fair_share.probed): a
-- paused queue is left as it is, checked here so no claim can race a pause; a queue's due
-- jobs join its ready set before it is looked at
local wanted = limit
for i = 8, #ARGV, 2 do
  if ARGV[i] ~= ARGV[6] then wanted = nil end
end
local queues, weights = {}, {}
for i = 5, #ARGV, 2 do
  local q = ARGV[i]
  if wanted and #queues >= wanted then break end
  if not paused(q) then
    promote(q, now)
    if redis.call('ZCARD', qkey(q, 'ready')) > 0 then
      queues[#queues + 1] = q
      weights[q] = tonumber(ARGV[i + 1])
    end
  end
end
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

-- the picks, the stale index entries met, the limit slots and bucket tokens counted so
-- far; and per queue, how far into its ready set the claim has read. It only reads: the
-- writes come after the choice is final.
local picks, stale, in_use, tokens, read_to = {}, {}, {}, {}, {}

-- up to n ready jobs of q, best first, looking past at most LIMIT_SCAN held back by their
-- limits; how many it took
local function take_from(q, n)
  read_to[q] = read_to[q] or 0
  local got, passed = 0, 0
  while got < n and passed <= LIMIT_SCAN do
    local from = read_to[q]
    local ready = redis.call('ZRANGE', qkey(q, 'ready'), from, from + n - got - 1, 'WITHSCORES')
    if #ready == 0 then break end
    for j = 1, #ready, 2 do
      if got == n or passed > LIMIT_SCAN then break end
      read_to[q] = read_to[q] + 1
      local id = ready[j]
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
          picks[#picks + 1] = {tonumber(ready[j + 1]), q, id, t, limited}
          got = got + 1
        else
          passed = passed + 1
        end
      end
    end
  end
  return got
end

-- a round gives each open queue its share by weight, what rounding leaves one each in
-- order; a queue that comes short has no more, and its slots go round again
local open, left = queues, limit
while left > 0 and #open > 0 do
  local total, split, given = 0, {}, 0
  for _, q in ipairs(open) do total = total + weights[q] end
  for i, q in ipairs(open) do
    split[i] = math.floor(left * weights[q] / total)
    given = given + split[i]
  end
  for i = 1, left - given do split[i] = split[i] + 1 end
  local still = {}
  for i, q in ipairs(open) do
    local got = 0
    if split[i] > 0 then got = take_from(q, split[i]) end
    left = left - got
    if got == split[i] then still[#still + 1] = q end
  end
  open = still
end
table.sort(picks, function(a, b) return a[1] < b[1] end)  -- priority, then age
for rk, spare in pairs(tokens) do save_bucket(rk, spare, periods[rk], now) end
for _, entry in ipairs(stale) do zrem(qkey(entry[1], 'ready'), entry[2]) end
local out = {}
taken = {}
local started = fmt(now)
for _, pick in ipairs(picks) do
  local q, id, t = pick[2], pick[3], pick[4]
  if pick[5] then take_slot(id, t.limit_key) end
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
# a job array, see `create`), the attempt's error note. Returns 1 (accepted) or 0 (lease
# lost) per ack. Each attempt that ended joins the job's history (a hand-back made none).
# The accepted acks are counted in their queue's outcome counters, by minute, task and
# outcome: one HINCRBY per (queue, task, outcome) the batch holds, and an EXPIREAT when a
# counter is new.
ACK = (
    PRELUDE
    + r"""
local now = now_s()
local minute = now - now % 60
local hour = now - now % 3600
local counted = {}  -- counters key -> field -> acks
local out = {}
for i = 1, #ARGV do
  local a = cjson.decode(ARGV[i])
  local id, state, result, err, retry_in = a[1], a[3], a[4], a[5], tonumber(a[6])
  local q, k, f = held(id, a[2], {'history', 'worker', 'started_at'})
  if q then
    local key = qkey(q, string.format('outcomes:%d', hour))
    local field = string.format('%d %s %s', minute, OUTCOME[state], f[9] or '')
    counted[key] = counted[key] or {}
    counted[key][field] = (counted[key][field] or 0) + 1
    free_slot(q, id, f[8])  -- every ack takes the job out of active
    local history = ''
    if state ~= 'queued' then
      history = appended(f[11], f[5], f[12], f[13], OUTCOME[state], now, a[8])
    end
    if FINISHED[state] then
      finish(q, id, 'active', state, now, f[4], f[10],
             {'result', result, 'error', err, 'history', history})
    else
      local fields = {}
      if state == 'queued' then  -- handed back unrun: the attempt does not count
        fields = {'attempts', tonumber(f[5]) - 1}
      else
        fields = {'history', history}
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
for key, fields in pairs(counted) do
  local new = false
  for field, n in pairs(fields) do
    if redis.call('HINCRBY', key, field, n) == n then new = true end
  end
  if new then redis.call('EXPIREAT', key, string.format('%d', hour + 3600 + OUTCOME_RETENTION)) end
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
                         'priority', 'rseq', 'limit_key', 'seq', 'history', 'attempts',
                         'worker', 'started_at')
    free_slot(q, id, f[6] or redis.call('HGET', P .. ':limits', id))
    local history = f[2] and appended(f[8], f[9], f[10], f[11], LEASE_EXPIRED, now, nil)
    if not f[2] then
      zrem(qkey(q, 'active'), id)  -- its record is gone: nothing to recover but its slot
    elseif f[1] == '1' then
      finish(q, id, 'active', 'cancelled', now, f[3], f[7], {'history', history})
      cancelled = cancelled + 1
    elseif tonumber(f[2]) >= tonumber(ARGV[1]) then
      finish(q, id, 'active', 'failed', now, nil, f[7], {'error', ARGV[2], 'history', history})
      dead = dead + 1
    else
      requeue(q, id, f[4], f[5], {'recoveries', tonumber(f[2]) + 1, 'history', history})
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
local f = redis.call('HMGET', k, 'state', 'result_ttl', 'seq')
if f[1] == 'queued' or f[1] == 'scheduled' then
  finish(q, id, f[1], 'cancelled', now, f[2], f[3], {})
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
local f = redis.call('HMGET', k, 'state', 'priority', 'seq')
local state = f[1]
if state == 'failed' or state == 'cancelled' then
  zrem(qkey(q, state), id)
  zrem(qkey(q, 'expiry'), id)
  if f[3] then zadd(qkey(q, 'live'), f[3], id) end
  ready_add(q, id, f[2], nil,
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

# ARGV: queue, a finished state, cutoff ('' = all), batch, the sequence to go on after ('' =
# from the oldest). Deletes the state's jobs finished at or before the cutoff among the next
# `batch` oldest; returns how many, and where to go on from ('' = done). Jobs are indexed in
# enqueue order, and a job enqueued after the cutoff finished after it: the look stops there.
PURGE = (
    PRELUDE
    + r"""
local q, cutoff, batch = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local from = ARGV[5] == '' and '-inf' or '(' .. ARGV[5]
local ids = redis.call('ZRANGEBYSCORE', qkey(q, ARGV[2]), from, '+inf', 'WITHSCORES',
                       'LIMIT', 0, batch)
local n = 0
for i = 1, #ids, 2 do
  local id = ids[i]
  if not cutoff then
    drop(q, id)
    n = n + 1
  else
    local f = redis.call('HMGET', jkey(q, id), 'enqueued_at', 'finished_at')
    if tonumber(f[1]) and tonumber(f[1]) > cutoff then return {n, ''} end
    local finished = tonumber(f[2])
    if not finished or finished <= cutoff then
      drop(q, id)
      n = n + 1
    end
  end
end
if #ids < 2 * batch then return {n, ''} end
return {n, ids[#ids]}
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

# ARGV: ids... Deletes those of them that are finished, whatever their queue, as PURGE does
# each; returns how many (a record past its result TTL is dropped, not counted).
DELETE = (
    PRELUDE
    + r"""
local now = now_s()
local n = 0
for _, id in ipairs(ARGV) do
  local q = live(id, now)
  if q and FINISHED[redis.call('HGET', jkey(q, id), 'state')] then
    drop(q, id)
    n = n + 1
  end
end
return n
"""
)

# ARGV: token, worker, lease seconds, seconds the offer lasts, queues... Returns 1 if any
# queue has a due job, and the earliest scheduled due time. Otherwise, with a token, the
# idle worker offers to take the next job of any of the queues: the enqueue that stores it
# leases it to the worker as a claim would and publishes it on `<prefix>:hand:<token>`,
# to which the worker subscribed first (see ENQUEUE). One job per offer; offers past
# their time are swept here. A paused queue's jobs are not work: an idle worker waits them
# out.
OFFER = (
    PRELUDE
    + r"""
local now = now_s()
local token, worker, lease, lasts = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
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
for i = 5, #ARGV do
  local q = ARGV[i]
  if not paused(q) then
    if runnable(q) then return {1, ''} end
    local first = redis.call('ZRANGE', qkey(q, 'scheduled'), 0, 0, 'WITHSCORES')
    if #first > 0 then
      local due = tonumber(first[2])
      if due <= now then return {1, ''} end
      if next_due == '' or due < tonumber(next_due) then next_due = fmt(due) end
    end
  end
end
if token ~= '' then
  local key = P .. ':offer:' .. token
  redis.call('HSET', key, 'worker', worker, 'lease', lease)
  redis.call('PEXPIRE', key, math.ceil(lasts * 1000))
  for i = 5, #ARGV do
    local offers = qkey(ARGV[i], 'offers')
    redis.call('ZREMRANGEBYSCORE', offers, '-inf', fmt(now))
    redis.call('ZADD', offers, fmt(now + lasts), token)
  end
end
if next_due == '' then return {0, ''} end
return {0, fmt(tonumber(next_due) - now)}
"""
)

# ARGV: cursor (list jobs of sequence <= it; '' = from the newest), want, budget (1 per job
# looked at, 2 more per record read to check it), state, task, id prefix, worker, since,
# until ('' = no such filter), queues... Returns the next cursor ('' = no more) and up to
# `want` records, newest first.
#
# Each queue's indexes in enqueue order (see the key layout) are read newest first, a window
# at a time, and merged, so a page of a state costs about the page however many jobs other
# states or queues hold. The jobs of a live state are read from the `live` index and checked
# one by one, except an active or a scheduled state of at most PAGE_SORT_LIMIT jobs, read
# whole from its own index and sorted. A task, worker or id prefix is checked on each job
# met: a filter few jobs match costs up to `budget`, and the page returned may then be
# short, with the cursor of the place the look stopped. `since` and `until` are found by
# bisection in each index (enqueue times follow the sequence, Redis's clock permitting).
PAGE = (
    PRELUDE
    + f"local PAGE_SORT_LIMIT = {PAGE_SORT_LIMIT}\n"
    + r"""
local now = now_s()
local want, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
local state, task, prefix, worker = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local since, before = tonumber(ARGV[8]), tonumber(ARGV[9])
local top = ARGV[1] == '' and math.huge or tonumber(ARGV[1])
local function bound(x)
  if x == math.huge then return '+inf' end
  if x == -math.huge then return '-inf' end
  return string.format('%.0f', x)
end
local function seen_as(st, due)  -- the state a reader sees: a due scheduled job is queued
  if st == 'scheduled' and due and tonumber(due) <= now then return 'queued' end
  return st
end

-- the rank (oldest first) of the first job of the index enqueued at or after `t`
local function rank_at(key, q, n, t)
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local id = redis.call('ZRANGE', key, mid, mid)[1]
    local at = tonumber(redis.call('HGET', jkey(q, id), 'enqueued_at'))
    if at and at < t then lo = mid + 1 else hi = mid end
  end
  return lo
end

local sources = {}
-- an index in enqueue order; `walk` is the state its jobs must be seen in, if it holds others
local function indexed(q, key, walk)
  local s = {q = q, key = key, walk = walk, hi = top, lo = -math.huge, pos = 1, n = 0}
  if since or before then
    local n = redis.call('ZCARD', key)
    if since then
      local r = rank_at(key, q, n, since)
      if r >= n then return end
      s.lo = tonumber(redis.call('ZRANGE', key, r, r, 'WITHSCORES')[2])
    end
    if before then
      local r = rank_at(key, q, n, before)
      if r == 0 then return end
      s.hi = math.min(s.hi, tonumber(redis.call('ZRANGE', key, r - 1, r - 1, 'WITHSCORES')[2]))
    end
  end
  sources[#sources + 1] = s
end
-- the few jobs of one live state, read whole and sorted newest first
local function sorted(q, ids, wanted)
  local found = {}
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', jkey(q, id), 'seq', 'enqueued_at', 'state', 'due_at')
    local seq, at = tonumber(f[1]), tonumber(f[2])
    if seq and seq <= top and seen_as(f[3], f[4]) == wanted
        and (not since or at >= since) and (not before or at < before) then
      found[#found + 1] = {seq, id}
    end
  end
  table.sort(found, function(a, b) return a[1] > b[1] end)
  local s = {q = q, ids = {}, seqs = {}, pos = 1, n = #found, done = true}
  for i, job in ipairs(found) do s.seqs[i], s.ids[i] = job[1], job[2] end
  sources[#sources + 1] = s
end

local not_due = '(' .. fmt(now)
for i = 10, #ARGV do
  local q = ARGV[i]
  if state == '' then
    for _, index in ipairs({'live', 'succeeded', 'failed', 'cancelled'}) do
      indexed(q, qkey(q, index), nil)
    end
  elseif FINISHED[state] then
    indexed(q, qkey(q, state), nil)
  elseif state == 'active' and redis.call('ZCARD', qkey(q, 'active')) <= PAGE_SORT_LIMIT then
    sorted(q, redis.call('ZRANGE', qkey(q, 'active'), 0, -1), 'active')
  elseif state == 'scheduled'
      and redis.call('ZCOUNT', qkey(q, 'scheduled'), not_due, '+inf') <= PAGE_SORT_LIMIT then
    sorted(q, redis.call('ZRANGEBYSCORE', qkey(q, 'scheduled'), not_due, '+inf'), 'scheduled')
  else
    indexed(q, qkey(q, 'live'), state)
  end
end

local window = math.max(2, math.min(want + 1, math.ceil(2 * (want + 1) / math.max(1, #sources))))
for _, s in ipairs(sources) do s.window = window end
-- the sequence of the source's newest job not looked at yet (s.ids[s.pos]), or nil when it
-- has no more; an index is read a window at a time, each window twice the last
local function head(s)
  if s.pos > s.n then
    if s.done then return nil end
    local r = redis.call('ZREVRANGEBYSCORE', s.key, bound(s.hi), bound(s.lo), 'WITHSCORES',
                         'LIMIT', 0, s.window)
    local ids, seqs = {}, {}
    for j = 1, #r, 2 do
      ids[#ids + 1] = r[j]
      seqs[#seqs + 1] = tonumber(r[j + 1])
    end
    s.ids, s.seqs, s.pos, s.n = ids, seqs, 1, #ids
    s.done = s.n < s.window
    if s.n > 0 then s.hi = seqs[s.n] - 1 end
    s.window = math.min(s.window * 2, 1000)
    if s.n == 0 then return nil end
  end
  return s.seqs[s.pos]
end
-- the job's record if it matches, else nil
local fields = task ~= '' or worker ~= ''
local spent = 0
local function matching(q, walk, id)
  spent = spent + 1
  if prefix ~= '' and string.sub(id, 1, #prefix) ~= prefix then return nil end
  local k = jkey(q, id)
  if walk or fields then
    spent = spent + 2
    local f = redis.call('HMGET', k, 'state', 'due_at', 'task', 'worker')
    if not f[1] or (walk and seen_as(f[1], f[2]) ~= walk)
        or (task ~= '' and f[3] ~= task) or (worker ~= '' and f[4] ~= worker) then
      return nil
    end
  end
  local t = as_table(redis.call('HGETALL', k))
  if not t.state then return nil end  -- gone from under its index
  if t.expires_at and t.expires_at ~= '' and tonumber(t.expires_at) <= now then return nil end
  return t
end

local out, last, cursor = {}, nil, nil
while not cursor do
  -- the source of the newest job not looked at yet, and the newest job of the others
  local from, best, second = nil, nil, -math.huge
  local n = 0
  for _, s in ipairs(sources) do
    local h = head(s)
    if h then  -- sources with no more jobs leave the list
      n = n + 1
      sources[n] = s
      if not best or h > best then
        if best then second = best end
        from, best = s, h
      elseif h > second then
        second = h
      end
    end
  end
  for j = #sources, n + 1, -1 do sources[j] = nil end
  if not from then break end
  -- its jobs newer than all the others' come next, in one run
  local seq = best
  repeat
    if spent >= budget then  -- looked far enough: the next call goes on from here
      cursor = bound(seq)
      break
    end
    local id = from.ids[from.pos]
    from.pos = from.pos + 1
    local t = matching(from.q, from.walk, id)
    if t then
      if #out == want then  -- one more than asked for: the next page starts after the last
        cursor = bound(last - 1)
        break
      end
      out[#out + 1] = encode(t, now)
      last = seq
    end
    seq = head(from)
  until not seq or seq <= second
end
table.insert(out, 1, cursor or '')
return out
"""
)

# ARGV: queue, 1 (pause) or 0 (resume). A resume wakes the queue's idle workers.
PAUSE = (
    PRELUDE
    + r"""
local q = ARGV[1]
if ARGV[2] == '1' then
  redis.call('SET', qkey(q, 'paused'), '1')
  redis.call('SADD', P .. ':queues', q)
elseif redis.call('DEL', qkey(q, 'paused')) == 1 then
  redis.call('PUBLISH', qkey(q, 'work'), '1')
end
return 1
"""
)

# ARGV: name, the worker's JSON, ttl seconds. Its entry holds the time seen and the expiry,
# both by the server's clock.
REGISTER_WORKER = (
    PRELUDE
    + r"""
local now = now_s()
redis.call('HSET', P .. ':workers', ARGV[1],
           fmt(now) .. ' ' .. fmt(now + tonumber(ARGV[3])) .. ' ' .. ARGV[2])
return fmt(now)
"""
)

# Returns the entries of the live workers; the expired ones are dropped.
WORKERS = (
    PRELUDE
    + r"""
local now = now_s()
local key = P .. ':workers'
local flat = redis.call('HGETALL', key)
local out, gone = {}, {}
for i = 1, #flat, 2 do
  local expires = tonumber(string.match(flat[i + 1], '^%S+ (%S+) '))
  if expires and expires > now then out[#out + 1] = flat[i + 1] else gone[#gone + 1] = flat[i] end
end
chunked('HDEL', key, gone, 4000)
return out
"""
)
