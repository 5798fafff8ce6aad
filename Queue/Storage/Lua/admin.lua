-- ARGV: prefix, action, tenant, id, now. Every action is confined to the tenant's own keys.
local action, t, id, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = jkey(t, id)
if redis.call('EXISTS', k) == 0 then return 0 end
if action == 'retry' then
  if redis.call('ZREM', tkey(t, 'failed'), id) == 0 then return 0 end
  redis.call('HSET', k, 'st', 'wait', 'a', 0, 'sl', 0)
  redis.call('HDEL', k, 'er', 'sk', 'tf', 'ts', 'pg')
  push_wait(t, id, redis.call('HGET', k, 'ws'))
  wake()
  return 1
elseif action == 'promote' then
  if redis.call('ZREM', tkey(t, 'delayed'), id) == 0 then return 0 end
  redis.call('ZREM', DELAYED, member(t, id))
  redis.call('HSET', k, 'st', 'wait')
  redis.call('HDEL', k, 'du')
  push_wait(t, id, redis.call('HGET', k, 'ws'))
  wake()
  return 1
elseif action == 'remove' then
  unwait(t, id)
  redis.call('ZREM', tkey(t, 'delayed'), id)
  redis.call('ZREM', DELAYED, member(t, id))
  -- Removing an active job drops its lease: the worker's late completion then finds no token and is ignored.
  release_lease(t, id)
  redis.call('ZREM', tkey(t, 'completed'), id)
  redis.call('ZREM', tkey(t, 'failed'), id)
  redis.call('DEL', k)
  return 1
end
return redis.error_reply('unknown action ' .. action)
