-- ARGV: prefix, now, then per job: tenant, id, data, priority, dueMs.
-- Returns per job 1 (added) or 0 (duplicate id for that tenant).
local now = tonumber(ARGV[2])
local res = {}
local added = 0
local count = (#ARGV - 2) / 5
local seq = redis.call('INCRBY', P .. 'seq', count) - count
local batch = {}
for i = 3, #ARGV, 5 do
  seq = seq + 1
  local r = add_job(ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], now, seq, batch)
  res[#res+1] = r
  added = added + r
end
flush_batch(batch)
if added > 0 then wake() end
return res
