-- ARGV: prefix, now, leaseUntil, leaseToken, max, perTenantCap (0 = none), maxStalls, only (a tenant slot: lease
--       from no other; '' for all), heldCount, then per held
--       tenant: tenant, limit (0: skip it, held; 1: lease at most one job of it, the probe of a dependency hold).
-- Promotes due delayed jobs, recovers expired leases, then leases up to max jobs going round the tenant ring.
-- Held tenants keep their place in the ring and their jobs wait; only their leasing is skipped or limited.
-- One lease per call: the token scores its expiry in LEASES and lists its jobs; each job records the token ('lt').
-- Returns { nextDueMs or -1, then per job: tenant, id, data, attempt }.
local now = tonumber(ARGV[2])
local lease, token = ARGV[3], ARGV[4]
local max, cap, maxStalls = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local limits = {}
local only = ARGV[8] or ''
for i = 10, 9 + 2 * tonumber(ARGV[9] or '0'), 2 do limits[ARGV[i]] = tonumber(ARGV[i+1]) end

for _, m in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 1000)) do
  local t, id = split(m)
  redis.call('ZREM', DELAYED, m)
  redis.call('ZREM', tkey(t, 'delayed'), id)
  local k = jkey(t, id)
  changed(t)
  if redis.call('EXISTS', k) == 1 then
    redis.call('HSET', k, 'st', 'wait', 'du', '')
    requeue(t, id, true)
  end
end

for _, expired in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, 10)) do
  for _, m in ipairs(redis.call('LRANGE', lkey(expired), 0, -1)) do
    local t, id = split(m)
    local k = jkey(t, id)
    -- Jobs of that fetch that finished meanwhile no longer carry its token.
    if redis.call('HGET', k, 'lt') == expired then
      changed(t)
      redis.call('SREM', tkey(t, 'active'), id)
      local stalls = redis.call('HINCRBY', k, 'sl', 1)
      if stalls > maxStalls then
        fail_final(t, id, 'Job ' .. id .. ' stalled ' .. stalls .. ' times (its worker stopped renewing the lease: crashed or hung), more than the maximum of ' .. maxStalls .. ' stalls.', '', now)
      else
        -- The stalled run never finished, so it does not count as an attempt.
        redis.call('HINCRBY', k, 'a', -1)
        redis.call('HSET', k, 'st', 'wait', 'lt', '')
        requeue(t, id, true)
      end
    end
  end
  redis.call('DEL', lkey(expired))
  redis.call('ZREM', LEASES, expired)
end

local out = { -1 }
local leased = {}
local ringLen = redis.call('LLEN', RING)
local idle = 0
while #leased < max and ringLen > 0 and idle < ringLen do
  local t = redis.call('LMOVE', RING, RING, 'LEFT', 'RIGHT')
  local active = tkey(t, 'active')
  -- An equal share of what is left keeps one flooding tenant from filling the batch.
  local share = math.max(1, math.floor((max - #leased) / ringLen))
  if cap > 0 then share = math.min(share, cap - redis.call('SCARD', active)) end
  local limit = limits[t]
  if only ~= '' and t ~= only then limit = 0 end
  if limit then share = math.min(share, limit) end
  local got = {}
  if share > 0 then
    local ids = {}
    local prio = tkey(t, 'prio')
    if redis.call('ZCARD', prio) > 0 then
      local popped = redis.call('ZPOPMIN', prio, share)
      for j = 1, #popped, 2 do ids[#ids+1] = popped[j] end
    end
    if #ids < share then
      local more = redis.call('LPOP', tkey(t, 'wait'), share - #ids)
      if more then
        for _, id in ipairs(more) do ids[#ids+1] = id end
      end
    end
    for _, id in ipairs(ids) do
      local k = jkey(t, id)
      local f = redis.call('HMGET', k, 'd', 'a')
      if f[1] then
        local att = (tonumber(f[2]) or 0) + 1
        redis.call('HSET', k, 'st', 'active', 'a', att, 'ts', now, 'lt', token)
        got[#got+1] = id
        leased[#leased+1] = member(t, id)
        out[#out+1] = t; out[#out+1] = id; out[#out+1] = f[1]; out[#out+1] = att
      end
    end
    if #got > 0 then
      redis.call('SADD', active, unpack(got))
      changed(t)
    end
    if limit then limits[t] = limit - #got end
    if waiting(t) == 0 then
      -- LMOVE just put this tenant at the tail.
      redis.call('RPOP', RING)
      ringLen = ringLen - 1
    end
  end
  if #got == 0 then idle = idle + 1 else idle = 0 end
end
if #leased > 0 then
  redis.call('ZADD', LEASES, lease, token)
  redis.call('RPUSH', lkey(token), unpack(leased))
end

local nextDue = -1
local d = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
if d[2] then nextDue = tonumber(d[2]) end
local l = redis.call('ZRANGE', LEASES, 0, 0, 'WITHSCORES')
if l[2] and (nextDue < 0 or tonumber(l[2]) < nextDue) then nextDue = tonumber(l[2]) end
out[1] = nextDue
return out
