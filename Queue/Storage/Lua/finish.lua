-- ARGV: prefix, now, completedKeep, completedAgeMs, failedKeep, failedAgeMs,
--       then per job: kind, tenant, id, leaseToken, dueMs, error, stack.
-- kind: c complete, f fail for good, r retry at due, d delay to due without using an attempt, h hand back now.
-- A job whose lease token no longer matches was recovered or removed meanwhile: left untouched, reported 0.
local now = tonumber(ARGV[2])
local cKeep, cAge, fKeep, fAge = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local res = {}
local doneC, doneF = {}, {}
local woke = false
for i = 7, #ARGV, 7 do
  local kind, t, id, token = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local k = jkey(t, id)
  if redis.call('HGET', k, 'lt') ~= token then
    res[#res+1] = 0
  else
    release_lease(t, id)
    if kind == 'c' then
      redis.call('HSET', k, 'st', 'completed', 'tf', now)
      redis.call('ZADD', tkey(t, 'completed'), now, id)
      doneC[t] = true
    elseif kind == 'f' then
      fail_final(t, id, ARGV[i+5], ARGV[i+6], now)
      doneF[t] = true
    elseif kind == 'h' then
      redis.call('HINCRBY', k, 'a', -1)
      redis.call('HSET', k, 'st', 'wait')
      push_wait(t, id, redis.call('HGET', k, 'ws'))
      woke = true
    else
      if kind == 'd' then redis.call('HINCRBY', k, 'a', -1) end
      redis.call('HSET', k, 'er', ARGV[i+5], 'sk', ARGV[i+6])
      schedule(t, id, ARGV[i+4])
      woke = true
    end
    res[#res+1] = 1
  end
end
for t in pairs(doneC) do trim(t, 'completed', cKeep, cAge, now) end
for t in pairs(doneF) do trim(t, 'failed', fKeep, fAge, now) end
if woke then wake() end
return res
