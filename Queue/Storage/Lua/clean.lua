-- ARGV: prefix, tenant, state (completed|failed), cutoffMs, limit. Deletes the tenant's finished jobs older than cutoff.
local z = tkey(ARGV[2], ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', z, '-inf', ARGV[4], 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(ids) do redis.call('DEL', jkey(ARGV[2], id)) end
if #ids > 0 then redis.call('ZREM', z, unpack(ids)) end
return #ids
