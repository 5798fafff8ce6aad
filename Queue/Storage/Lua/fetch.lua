-- ARGV: prefix, now, leaseUntil, leaseToken, max, perTenantCap (0 = none), maxStalls.
-- Promotes due delayed jobs, recovers expired leases, then leases up to max jobs going round the tenant ring.
-- Returns { nextDueMs or -1, then per job: tenant, id, name, payload, signature, traceparent, attempt, maxAttempts, enqueuedMs }.
local now = tonumber(ARGV[2])
local lease, token = ARGV[3], ARGV[4]
local max, cap, maxStalls = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

for _, m in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 1000)) do
  local t, id = split(m)
  redis.call('ZREM', DELAYED, m)
  redis.call('ZREM', tkey(t, 'delayed'), id)
  local k = jkey(t, id)
  local ws = redis.call('HGET', k, 'ws')
  if ws then
    redis.call('HSET', k, 'st', 'wait')
    redis.call('HDEL', k, 'du')
    push_wait(t, id, ws)
  end
end

for _, m in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, 100)) do
  local t, id = split(m)
  release_lease(t, id)
  local k = jkey(t, id)
  if redis.call('EXISTS', k) == 1 then
    local stalls = redis.call('HINCRBY', k, 'sl', 1)
    if stalls > maxStalls then
      fail_final(t, id, 'Job ' .. id .. ' stalled ' .. stalls .. ' times (its worker stopped renewing the lease: crashed or hung), more than the maximum of ' .. maxStalls .. ' stalls.', '', now)
    else
      -- The stalled run never finished, so it does not count as an attempt.
      redis.call('HINCRBY', k, 'a', -1)
      redis.call('HSET', k, 'st', 'wait')
      push_wait(t, id, redis.call('HGET', k, 'ws'))
    end
  end
end

local out = { -1 }
local taken = 0
local ringLen = redis.call('LLEN', RING)
local idle = 0
while taken < max and ringLen > 0 and idle < ringLen do
  local t = redis.call('LMOVE', RING, RING, 'LEFT', 'RIGHT')
  local w, a = tkey(t, 'wait'), tkey(t, 'active')
  -- An equal share of what is left keeps one flooding tenant from filling the batch.
  local share = math.max(1, math.floor((max - taken) / ringLen))
  if cap > 0 then share = math.min(share, cap - redis.call('ZCARD', a)) end
  local got = 0
  if share > 0 then
    local popped = redis.call('ZPOPMIN', w, share)
    for j = 1, #popped, 2 do
      local id = popped[j]
      local k = jkey(t, id)
      local f = redis.call('HMGET', k, 'n', 'p', 's', 'tp', 'a', 'ma', 'te')
      if f[1] then
        local att = tonumber(f[5]) + 1
        redis.call('HSET', k, 'st', 'active', 'a', att, 'ts', now, 'lt', token)
        redis.call('ZADD', a, lease, id)
        redis.call('ZADD', LEASES, lease, member(t, id))
        out[#out+1] = t; out[#out+1] = id; out[#out+1] = f[1]; out[#out+1] = f[2]; out[#out+1] = f[3]
        out[#out+1] = f[4]; out[#out+1] = att; out[#out+1] = f[6]; out[#out+1] = f[7]
        got = got + 1
      end
    end
    if redis.call('ZCARD', w) == 0 then
      -- LMOVE just put this tenant at the tail.
      redis.call('RPOP', RING)
      ringLen = ringLen - 1
    end
  end
  taken = taken + got
  if got == 0 then idle = idle + 1 else idle = 0 end
end

local nextDue = -1
local d = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
if d[2] then nextDue = tonumber(d[2]) end
local l = redis.call('ZRANGE', LEASES, 0, 0, 'WITHSCORES')
if l[2] and (nextDue < 0 or tonumber(l[2]) < nextDue) then nextDue = tonumber(l[2]) end
out[1] = nextDue
return out
