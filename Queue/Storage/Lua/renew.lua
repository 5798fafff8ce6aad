-- ARGV: prefix, leaseUntil, then per job: tenant, id, leaseToken. Returns the 1-based positions of leases lost.
local lost = {}
local n = 0
for i = 3, #ARGV, 3 do
  n = n + 1
  local t, id, token = ARGV[i], ARGV[i+1], ARGV[i+2]
  if redis.call('HGET', jkey(t, id), 'lt') == token then
    redis.call('ZADD', LEASES, 'XX', ARGV[2], member(t, id))
    redis.call('ZADD', tkey(t, 'active'), 'XX', ARGV[2], id)
  else
    lost[#lost+1] = n
  end
end
return lost
