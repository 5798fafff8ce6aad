-- ARGV: prefix, now, completedKeep, completedAgeMs, failedKeep, failedAgeMs, tokenCount, then that many lease tokens
--       whose jobs have all ended here (their lease records are dropped), then completedGroups, then per group of
--       completed jobs of one tenant and lease: tenant, leaseToken, count, then that many ids; then per other outcome:
--       kind, tenant, id, leaseToken, dueMs, error, stack.
-- kind: f fail for good, r retry at due, d delay to due without using an attempt, h hand back now.
-- Returns 1 per outcome recorded, in the order given (completed groups first), or 0 where the job's lease token no
-- longer matches: it was recovered or removed meanwhile and is left untouched.
local now = tonumber(ARGV[2])
local cKeep, cAge, fKeep, fAge = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local tokens = tonumber(ARGV[7])
local res = {}
local doneC, doneF, ended = {}, {}, {}
local woke = false
-- Set and list updates are gathered per tenant into one variadic call each.
local function add(map, t, id)
  local ids = map[t]
  if not ids then ids = {}; map[t] = ids end
  ids[#ids+1] = id
end
local i = 9 + tokens
for _ = 1, tonumber(ARGV[8 + tokens]) do
  local t, token, n = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2])
  local prefix = P .. 'j:' .. t .. ':'
  for j = i + 3, i + 2 + n do
    local id = ARGV[j]
    local k = prefix .. id
    if redis.call('HGET', k, 'lt') ~= token then
      res[#res+1] = 0
    else
      redis.call('HSET', k, 'st', 'completed', 'tf', now, 'lt', '')
      add(ended, t, id)
      add(doneC, t, id)
      res[#res+1] = 1
    end
  end
  i = i + 3 + n
end
for i = i, #ARGV, 7 do
  local kind, t, id, token = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local k = jkey(t, id)
  if redis.call('HGET', k, 'lt') ~= token then
    res[#res+1] = 0
  else
    add(ended, t, id)
    if kind == 'f' then
      fail_final(t, id, ARGV[i+5], ARGV[i+6], now)
      doneF[t] = (doneF[t] or 0) + 1
    elseif kind == 'h' then
      redis.call('HINCRBY', k, 'a', -1)
      redis.call('HSET', k, 'st', 'wait', 'lt', '')
      requeue(t, id, true)
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
for i = 8, 7 + tokens do
  redis.call('DEL', lkey(ARGV[i]))
  redis.call('ZREM', LEASES, ARGV[i])
end
for t, ids in pairs(ended) do
  redis.call('SREM', tkey(t, 'active'), unpack(ids))
  changed(t)
end
-- Running totals per tenant (never trimmed): operators derive throughput and failure rates from their deltas.
for t, ids in pairs(doneC) do
  redis.call('LPUSH', tkey(t, 'completed'), unpack(ids))
  trim(t, 'completed', cKeep, cAge, now)
  redis.call('HINCRBY', tkey(t, 'stats'), 'c', #ids)
end
for t, n in pairs(doneF) do
  trim(t, 'failed', fKeep, fAge, now)
  redis.call('HINCRBY', tkey(t, 'stats'), 'f', n)
end
if woke then wake() end
return res
