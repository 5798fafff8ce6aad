-- Tenant holds (KEYS.md, "Holds"). KEYS[1] the set of held tenants; ARGV: holds prefix, action, tenant, now, ...
-- A tenant's hash: 'pause' -> JSON {reason, since}; per dependency d: 'dep:d' -> JSON {cause, since},
-- 'probe:d' -> when the next probe may start (ms), 'iv:d' -> the current probe interval (ms).
-- Every change publishes on '<prefix>changed' so workers re-read holds at once.
local HELD = KEYS[1]
local action, t, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = P .. 't:' .. t
local function changed() redis.call('PUBLISH', P .. 'changed', t) end
local function tidy()
  -- An empty hash is gone already; the set names only tenants that something holds.
  if redis.call('EXISTS', h) == 0 then redis.call('SREM', HELD, t) end
end

if action == 'pause' then
  -- ARGV[5] JSON. Returns 1 when paused now, 0 when it already was (the first reason and time are kept).
  if redis.call('HSETNX', h, 'pause', ARGV[5]) == 0 then return 0 end
  redis.call('SADD', HELD, t)
  changed()
  return 1
elseif action == 'resume' then
  if redis.call('HDEL', h, 'pause') == 0 then return 0 end
  tidy()
  changed()
  return 1
end

local d = ARGV[5]
local dep, probe, iv = 'dep:' .. d, 'probe:' .. d, 'iv:' .. d
if action == 'trip' then
  -- ARGV[6] JSON, ARGV[7] first probe interval. Returns 1 when the circuit opened now, 0 when it was open.
  if redis.call('HSETNX', h, dep, ARGV[6]) == 0 then return 0 end
  redis.call('HSET', h, probe, now + tonumber(ARGV[7]), iv, ARGV[7])
  redis.call('SADD', HELD, t)
  changed()
  return 1
elseif action == 'claim' then
  -- ARGV[6] how long the claim lasts if its worker never reports. 1 when this caller may probe now.
  local at = redis.call('HGET', h, probe)
  if not at or tonumber(at) > now then return 0 end
  redis.call('HSET', h, probe, now + tonumber(ARGV[6]))
  return 1
elseif action == 'unclaim' then
  -- The claimer found none of the tenant's jobs on its queue: another queue's worker may probe at once.
  if redis.call('HEXISTS', h, dep) == 0 then return 0 end
  redis.call('HSET', h, probe, now)
  changed()
  return 1
elseif action == 'again' then
  -- The probe failed the same way: wait twice as long (up to ARGV[7]) and record the latest cause (ARGV[6]).
  if redis.call('HEXISTS', h, dep) == 0 then return 0 end
  local next = math.min(tonumber(redis.call('HGET', h, iv) or ARGV[7]) * 2, tonumber(ARGV[7]))
  local hold = cjson.decode(redis.call('HGET', h, dep))
  hold['cause'] = ARGV[6]
  redis.call('HSET', h, dep, cjson.encode(hold), probe, now + next, iv, next)
  changed()
  return 1
elseif action == 'release' then
  if redis.call('HDEL', h, dep, probe, iv) == 0 then return 0 end
  tidy()
  changed()
  return 1
end
return redis.error_reply('unknown action ' .. action)
