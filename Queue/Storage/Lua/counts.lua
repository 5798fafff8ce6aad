-- ARGV: prefix, then tenants. Returns per tenant: waiting, active, delayed, completed, failed, the enqueue time
-- (ms) of the older of the jobs at the front of its two lines (prioritised, plain) or -1, and the running totals of
-- jobs completed and failed for good (finish.lua's stats hash). O(1) per tenant; reads only the named tenants' keys.
-- A tenant outside the queue's tenant set has no job in any state (add_job puts it in, report.lua takes it out only
-- when all its counts are zero), so only its running totals are read: an idle tenant costs one call, not seven.
local function enqueued_ms(t, id)
  if not id then return -1 end
  local d = redis.call('HGET', jkey(t, id), 'd')
  if not d then return -1 end
  -- JobData: six fields, each '<byte length>:<bytes>'; the enqueue time is the last.
  local pos, value = 1, nil
  for _ = 1, 6 do
    local colon = string.find(d, ':', pos, true)
    if not colon then return -1 end
    local len = tonumber(string.sub(d, pos, colon - 1))
    if not len then return -1 end
    value = string.sub(d, colon + 1, colon + len)
    pos = colon + 1 + len
  end
  return tonumber(value) or -1
end

local has_jobs = {}
for i = 2, #ARGV, 1000 do
  local last = math.min(#ARGV, i + 999)
  for j, member in ipairs(redis.call('SMISMEMBER', P .. 'tenants', unpack(ARGV, i, last))) do
    has_jobs[i + j - 1] = member == 1
  end
end

local out = {}
for i = 2, #ARGV do
  local t = ARGV[i]
  local w, a, d, c, f = 0, 0, 0, 0, 0
  if has_jobs[i] then w, a, d, c, f = state_counts(t) end
  local oldest = -1
  if w > 0 then
    -- The fronts of both lines: the next prioritised job and the next plain one; the older counts.
    local a = enqueued_ms(t, redis.call('ZRANGE', tkey(t, 'prio'), 0, 0)[1])
    local b = enqueued_ms(t, redis.call('LINDEX', tkey(t, 'wait'), 0))
    oldest = a
    if oldest < 0 or (b >= 0 and b < oldest) then oldest = b end
  end
  out[#out+1] = w; out[#out+1] = a; out[#out+1] = d; out[#out+1] = c; out[#out+1] = f
  out[#out+1] = oldest
  local totals = redis.call('HMGET', tkey(t, 'stats'), 'c', 'f')
  out[#out+1] = tonumber(totals[1]) or 0
  out[#out+1] = tonumber(totals[2]) or 0
end
return out
