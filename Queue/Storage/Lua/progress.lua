-- ARGV: prefix, tenant, id, leaseToken, progressJson. Only the lease holder may report progress.
local k = jkey(ARGV[2], ARGV[3])
if redis.call('HGET', k, 'lt') ~= ARGV[4] then return 0 end
redis.call('HSET', k, 'pg', ARGV[5])
return 1
