-- Shared helpers, prepended to every script (see KEYS.md for the layout).
-- KEYS[1] ring, KEYS[2] leases, KEYS[3] delayed, KEYS[4] recurring due; ARGV[1] is the queue's key prefix.
local P = ARGV[1]
local RING, LEASES, DELAYED, RECDUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function jkey(t, id) return P .. 'j:' .. t .. ':' .. id end
local function tkey(t, s) return P .. 't:' .. t .. ':' .. s end
local function member(t, id) return t .. '|' .. id end
local function split(m)
  -- Tenant ids never contain '|', so the first one separates tenant from job id.
  local sep = string.find(m, '|', 1, true)
  return string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
end
local function wake() redis.call('PUBLISH', P .. 'wake', '1') end

-- The ring holds exactly the tenants whose wait set is non-empty, so fetch can go round them fairly.
local function push_wait(t, id, ws)
  local w = tkey(t, 'wait')
  if redis.call('ZADD', w, ws, id) == 1 and redis.call('ZCARD', w) == 1 then
    redis.call('RPUSH', RING, t)
  end
end

local function unwait(t, id)
  local w = tkey(t, 'wait')
  if redis.call('ZREM', w, id) == 1 and redis.call('ZCARD', w) == 0 then
    redis.call('LREM', RING, 0, t)
  end
end

local function schedule(t, id, due)
  redis.call('HSET', jkey(t, id), 'st', 'delayed', 'du', due)
  redis.call('ZADD', DELAYED, due, member(t, id))
  redis.call('ZADD', tkey(t, 'delayed'), due, id)
end

local function fail_final(t, id, err, stack, now)
  redis.call('HSET', jkey(t, id), 'st', 'failed', 'er', err, 'sk', stack, 'tf', now)
  redis.call('ZADD', tkey(t, 'failed'), now, id)
end

local function release_lease(t, id)
  redis.call('ZREM', LEASES, member(t, id))
  redis.call('ZREM', tkey(t, 'active'), id)
  redis.call('HDEL', jkey(t, id), 'lt')
end

-- Returns 1 when added, 0 when a job with this id already exists for this tenant (deduplication).
local function add_job(t, id, name, payload, sig, tp, pri, ma, due, now)
  local k = jkey(t, id)
  if redis.call('EXISTS', k) == 1 then return 0 end
  local seq = redis.call('INCR', P .. 'seq')
  -- Higher priority first, then FIFO; stays an exact integer below 2^53.
  local ws = string.format('%.0f', (1000 - tonumber(pri)) * 1099511627776 + (seq % 1099511627776))
  redis.call('HSET', k, 'tn', t, 'id', id, 'n', name, 'p', payload, 's', sig, 'tp', tp, 'pr', pri,
    'ma', ma, 'a', 0, 'sl', 0, 'te', now, 'ws', ws, 'st', 'wait')
  if tonumber(due) > tonumber(now) then
    schedule(t, id, due)
  else
    push_wait(t, id, ws)
  end
  return 1
end

local function trim(t, state, keep, age, now)
  local z = tkey(t, state)
  if age > 0 then
    local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - age, 'LIMIT', 0, 200)
    for _, id in ipairs(old) do redis.call('DEL', jkey(t, id)) end
    if #old > 0 then redis.call('ZREM', z, unpack(old)) end
  end
  if keep >= 0 then
    local excess = redis.call('ZCARD', z) - keep
    if excess > 0 then
      local ids = redis.call('ZRANGE', z, 0, math.min(excess, 200) - 1)
      for _, id in ipairs(ids) do redis.call('DEL', jkey(t, id)) end
      redis.call('ZREM', z, unpack(ids))
    end
  end
end
