-- ARGV: prefix, leaseUntil, tokenCount, then those lease tokens, then per job: tenant, id, leaseToken.
-- Extends the tokens' leases; returns the 1-based positions of jobs no longer held (recovered or removed).
local tokens = tonumber(ARGV[3])
for i = 4, 3 + tokens do
  redis.call('ZADD', LEASES, 'XX', ARGV[2], ARGV[i])
end
local lost = {}
local n = 0
for i = 4 + tokens, #ARGV, 3 do
  n = n + 1
  if redis.call('HGET', jkey(ARGV[i], ARGV[i+1]), 'lt') ~= ARGV[i+2] then
    lost[#lost+1] = n
  end
end
return lost
