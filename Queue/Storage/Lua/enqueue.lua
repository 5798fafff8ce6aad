-- ARGV: prefix, now, then per job: tenant, id, name, payload, signature, traceparent, priority, maxAttempts, dueMs.
-- Returns per job 1 (added) or 0 (duplicate id for that tenant).
local now = tonumber(ARGV[2])
local res = {}
local added = 0
for i = 3, #ARGV, 9 do
  local r = add_job(ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5], ARGV[i+6], ARGV[i+7], ARGV[i+8], now)
  res[#res+1] = r
  added = added + r
end
if added > 0 then wake() end
return res
