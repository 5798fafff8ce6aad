-- ARGV: prefix, tenant, state (completed|failed), cutoffMs, limit.
-- Deletes the tenant's finished jobs that finished at or before cutoff, oldest first, at most limit.
local t, z = ARGV[2], tkey(ARGV[2], ARGV[3])
local cutoff, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local n = 0
changed(t)
while n < limit do
  local id = redis.call('LINDEX', z, -1)
  if not id then break end
  local tf = tonumber(redis.call('HGET', jkey(t, id), 'tf'))
  if tf and tf > cutoff then break end
  redis.call('RPOP', z)
  redis.call('DEL', jkey(t, id))
  n = n + 1
end
return n
