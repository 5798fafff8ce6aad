-- ARGV: prefix, reporter (a worker id), lease ms (0: give the claim up, as a worker stops), full ('1': recount every
--       tenant with jobs; '0': only those changed since the last report), then tenants to add to the tenant set first
--       (a worker's first report: tenants whose jobs predate the set; those without jobs drop out again below).
-- One worker per queue reports its depth by state: the holder of the 'reporter' key, renewed by each report and
-- expiring after the lease, so another worker takes over when it stops. A report by a worker that has just taken the
-- claim is always full (it knows nothing yet). A tenant left with no job in any state leaves the tenant set.
-- Returns {0} when another worker reports; else {1 (changed tenants) or 2 (full), then per tenant counted: tenant,
-- waiting, active, delayed, completed, failed} (all zero: it has no jobs now). O(1) per tenant counted.
local key = P .. 'reporter'
local holder = redis.call('GET', key)
if holder and holder ~= ARGV[2] then return {0} end
if ARGV[3] == '0' then
  redis.call('DEL', key)
  return {0}
end
redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
local set, dirty = P .. 'tenants', P .. 'changed'
local full = ARGV[4] == '1' or not holder
if #ARGV >= 5 then
  for i = 5, #ARGV, 1000 do
    redis.call('SADD', set, unpack(ARGV, i, math.min(#ARGV, i + 999)))
  end
end
local tenants = redis.call('SMEMBERS', full and set or dirty)
redis.call('DEL', dirty)
local out = { full and 2 or 1 }
for _, t in ipairs(tenants) do
  local w, a, d, c, f = state_counts(t)
  if w + a + d + c + f == 0 then redis.call('SREM', set, t) end
  out[#out+1] = t; out[#out+1] = w; out[#out+1] = a; out[#out+1] = d; out[#out+1] = c; out[#out+1] = f
end
return out
