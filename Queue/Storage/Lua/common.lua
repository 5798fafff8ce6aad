-- Shared helpers, prepended to every script (see KEYS.md for the layout).
-- KEYS[1] ring, KEYS[2] leases, KEYS[3] delayed, KEYS[4] recurring due; ARGV[1] is the queue's key prefix.
-- Per-job work uses O(1) structures (lists, sets, hashes); sorted sets only where order needs a score
-- (prioritised waiting jobs, delayed jobs, lease expiries per fetch).
local P = ARGV[1]
local RING, LEASES, DELAYED, RECDUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function jkey(t, id) return P .. 'j:' .. t .. ':' .. id end
local function tkey(t, s) return P .. 't:' .. t .. ':' .. s end
local function lkey(token) return P .. 'lease:' .. token end
local function member(t, id) return t .. '|' .. id end
local function split(m)
  -- Tenant ids never contain '|', so the first one separates tenant from job id.
  local sep = string.find(m, '|', 1, true)
  return string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
end
local function wake() redis.call('PUBLISH', P .. 'wake', '1') end
local function waiting(t) return redis.call('LLEN', tkey(t, 'wait')) + redis.call('ZCARD', tkey(t, 'prio')) end
-- A tenant's jobs per state: waiting, active, delayed, completed, failed (O(1) each).
local function state_counts(t)
  return waiting(t), redis.call('SCARD', tkey(t, 'active')), redis.call('ZCARD', tkey(t, 'delayed')),
    redis.call('LLEN', tkey(t, 'completed')), redis.call('LLEN', tkey(t, 'failed'))
end

-- The ring holds exactly the tenants with waiting jobs, so fetch can go round them fairly.
-- Called after pushing `pushed` jobs: if they are all the tenant has, it was not waiting before.
-- A tenant seen once in this script run is known to be in it (bulk enqueue of one tenant checks once).
local in_ring = {}
local function note_waiting(t, pushed)
  if not in_ring[t] then
    if waiting(t) == pushed then redis.call('RPUSH', RING, t) end
    in_ring[t] = true
  end
end

-- Depth reporting (report.lua) without reading every tenant: every tenant with jobs on this queue is in its tenant
-- set, and every script that changes a tenant's counts marks it changed, so a report recounts only those.
local marked = {}
local function changed(t)
  if not marked[t] then
    redis.call('SADD', P .. 'changed', t)
    marked[t] = true
  end
end
local noted = {}
local function note_tenant(t)
  if not noted[t] then
    redis.call('SADD', P .. 'tenants', t)
    noted[t] = true
  end
  changed(t)
end

-- Priority 0 waits in a list (FIFO); higher priorities in a sorted set that fetch drains first.
-- New jobs join the back of the line; jobs coming back (retry due, stall, hand-back) the front.
local function push_wait(t, id, pri, ws, front)
  if pri and tonumber(pri) > 0 then
    redis.call('ZADD', tkey(t, 'prio'), ws, id)
  elseif front then
    redis.call('LPUSH', tkey(t, 'wait'), id)
  else
    redis.call('RPUSH', tkey(t, 'wait'), id)
  end
  note_waiting(t, 1)
end

local function requeue(t, id, front)
  local f = redis.call('HMGET', jkey(t, id), 'pr', 'ws')
  push_wait(t, id, f[1], f[2], front)
end

local function unwait(t, id)
  local removed = redis.call('LREM', tkey(t, 'wait'), 0, id) + redis.call('ZREM', tkey(t, 'prio'), id)
  if removed > 0 and waiting(t) == 0 then redis.call('LREM', RING, 0, t) end
end

local function schedule(t, id, due)
  redis.call('HSET', jkey(t, id), 'st', 'delayed', 'du', due, 'lt', '')
  redis.call('ZADD', DELAYED, due, member(t, id))
  redis.call('ZADD', tkey(t, 'delayed'), due, id)
end

-- Finished lists are newest first; retention pops from the tail (the oldest).
local function fail_final(t, id, err, stack, now)
  redis.call('HSET', jkey(t, id), 'st', 'failed', 'er', err, 'sk', stack, 'tf', now, 'lt', '')
  redis.call('LPUSH', tkey(t, 'failed'), id)
end

-- Returns 1 when added, 0 when a job with this id already exists for this tenant (deduplication).
-- d is the job's immutable data, encoded by the client; seq orders prioritised jobs of equal priority.
-- With `batch`, plain waiting jobs are collected per tenant for one RPUSH (see flush_batch) instead of one each.
local function add_job(t, id, d, pri, due, now, seq, batch)
  local k = jkey(t, id)
  -- Every job has 'd', so writing it only where it is absent is the duplicate check and the write in one call.
  -- State ('st'), attempts ('a'), stalls ('sl') and priority ('pr') start absent: waiting, 0, 0, 0.
  if redis.call('HSETNX', k, 'd', d) == 0 then return 0 end
  note_tenant(t)
  local ws = nil
  if tonumber(pri) > 0 then
    -- Higher priority first, then FIFO; stays an exact integer below 2^53.
    ws = string.format('%.0f', (1000 - tonumber(pri)) * 1099511627776 + (seq % 1099511627776))
    redis.call('HSET', k, 'pr', pri, 'ws', ws)
  end
  if tonumber(due) > tonumber(now) then
    schedule(t, id, due)
  elseif batch and not ws then
    local ids = batch[t]
    if not ids then ids = {}; batch[t] = ids end
    ids[#ids+1] = id
  else
    push_wait(t, id, pri, ws, false)
  end
  return 1
end

local function flush_batch(batch)
  for t, ids in pairs(batch) do
    redis.call('RPUSH', tkey(t, 'wait'), unpack(ids))
    note_waiting(t, #ids)
  end
end

-- Drops a tenant's oldest finished jobs beyond keep (-1: no limit) or older than age ms (0: no limit); bounded per call.
local function trim(t, state, keep, age, now)
  local z = tkey(t, state)
  local n = 0
  if keep >= 0 then
    local excess = redis.call('LLEN', z) - keep
    if excess > 0 then
      local ids = redis.call('RPOP', z, math.min(excess, 1000))
      local keys = {}
      for i, id in ipairs(ids) do keys[i] = jkey(t, id) end
      redis.call('DEL', unpack(keys))
      n = #ids
    end
  end
  if age > 0 then
    while n < 200 do
      local id = redis.call('LINDEX', z, -1)
      if not id then break end
      local tf = tonumber(redis.call('HGET', jkey(t, id), 'tf'))
      if tf and tf > now - age then break end
      redis.call('RPOP', z)
      redis.call('DEL', jkey(t, id))
      n = n + 1
    end
  end
end
