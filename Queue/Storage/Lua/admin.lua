-- ARGV: prefix, action, tenant, id, now. Every action is confined to the tenant's own keys.
local action, t, id = ARGV[2], ARGV[3], ARGV[4]
local k = jkey(t, id)
if redis.call('EXISTS', k) == 0 then return 0 end
changed(t)
if action == 'retry' then
  if redis.call('LREM', tkey(t, 'failed'), 1, id) == 0 then return 0 end
  redis.call('HSET', k, 'st', 'wait', 'a', 0, 'sl', 0)
  redis.call('HDEL', k, 'er', 'sk', 'tf', 'ts', 'pg')
  requeue(t, id, false)
  wake()
  return 1
elseif action == 'promote' then
  if redis.call('ZREM', tkey(t, 'delayed'), id) == 0 then return 0 end
  redis.call('ZREM', DELAYED, member(t, id))
  redis.call('HSET', k, 'st', 'wait', 'du', '')
  requeue(t, id, true)
  wake()
  return 1
elseif action == 'remove' then
  unwait(t, id)
  redis.call('ZREM', tkey(t, 'delayed'), id)
  redis.call('ZREM', DELAYED, member(t, id))
  -- Removing an active job drops it from the lease: the worker's late outcome then finds no token and is ignored.
  redis.call('SREM', tkey(t, 'active'), id)
  redis.call('LREM', tkey(t, 'completed'), 0, id)
  redis.call('LREM', tkey(t, 'failed'), 0, id)
  redis.call('DEL', k)
  return 1
end
return redis.error_reply('unknown action ' .. action)
