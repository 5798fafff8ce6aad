-- ARGV: prefix, action, tenant, recurringId, ...
-- upsert: definitionJson, nextDueMs -> 1 when created or changed, 0 when identical (keeps its schedule).
-- remove: -> 1 when it existed.
-- claim: now, expectedDueMs, nextDueMs (-1 = no more), then one job's enqueue fields: tenant, id, data, priority, dueMs.
--   Compare-and-set on the due time, so among competing servers exactly one materialises an occurrence.
local action, t, rid = ARGV[2], ARGV[3], ARGV[4]
local defs = tkey(t, 'recurring')
local m = member(t, rid)
if action == 'upsert' then
  if redis.call('HGET', defs, rid) == ARGV[5] and redis.call('ZSCORE', RECDUE, m) then return 0 end
  redis.call('HSET', defs, rid, ARGV[5])
  redis.call('ZADD', RECDUE, ARGV[6], m)
  wake()
  return 1
elseif action == 'remove' then
  redis.call('ZREM', RECDUE, m)
  return redis.call('HDEL', defs, rid)
elseif action == 'claim' then
  local now = tonumber(ARGV[5])
  local current = redis.call('ZSCORE', RECDUE, m)
  if not current or tonumber(current) ~= tonumber(ARGV[6]) then return 0 end
  if tonumber(ARGV[7]) < 0 then redis.call('ZREM', RECDUE, m) else redis.call('ZADD', RECDUE, ARGV[7], m) end
  local added = add_job(ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], now, redis.call('INCR', P .. 'seq'))
  if added == 1 then wake() end
  return 1
end
return redis.error_reply('unknown action ' .. action)
