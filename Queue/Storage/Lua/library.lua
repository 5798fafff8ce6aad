-- The job engine's Valkey functions (layout in KEYS.md). Every key a function touches is in its KEYS; the C# side
-- (QueueLayout, FunctionLibrary) builds them. Time always comes from the caller (ARGV), never from the server.
-- Functions are registered as aq<version>_<name>; the loader fills in the version.

-- The keys of one tenant in one shard, in the order QueueLayout.TenantBlock gives them.
local TENANT = {'d', 'r', 'ws', 'pg', 'er', 'sk',
  'wait', 'prio', 'active', 'delayed', 'completed', 'failed', 'recurring', 'stats'}
local TENANT_SIZE = #TENANT
-- The per-job hashes: forgetting a job removes its field from each (the last four rarely hold one).
local PROPS = {'d', 'r', 'ws', 'pg', 'er', 'sk'}
-- The keys of one shard, in the order QueueLayout.ShardBlock gives them.
local SHARD = {'ring', 'ready', 'due', 'leases', 'lj', 'tenants', 'changed', 'rdue'}
local SHARD_SIZE = #SHARD
-- The keys counts reads of one tenant, in the order QueueLayout.CountBlock gives them.
local COUNT = {'wait', 'prio', 'active', 'delayed', 'completed', 'failed', 'stats', 'd'}
local COUNT_SIZE = #COUNT

-- The ceiling of a tenant's waiting and delayed jobs per queue until a worker has written cfg.wmax.
local DEFAULT_WMAX = 100000
-- Lua's unpack() has a stack limit: variadic calls take at most this many arguments at once.
local CHUNK = 4000

local function block(keys, base, names)
  local b = {}
  for j = 1, #names do b[names[j]] = keys[base + j - 1] end
  return b
end

local function call_chunked(cmd, key, list)
  for i = 1, #list, CHUNK do
    redis.call(cmd, key, unpack(list, i, math.min(#list, i + CHUNK - 1)))
  end
end

local function member(t, id) return t .. '|' .. id end

local function split(m)
  -- Tenant ids never contain '|', so the first one separates tenant from job id.
  local sep = string.find(m, '|', 1, true)
  return string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
end

local function lines(s)
  local out = {}
  if not s then return out end
  for line in string.gmatch(s, '[^\n]+') do out[#out + 1] = line end
  return out
end

local function waiting(T) return redis.call('LLEN', T.wait) + redis.call('ZCARD', T.prio) end

-- A job's run record (hash r): state|attempts|stalls|started ms|finished ms|lease token, one field per job, so that
-- a batch reads and writes its records in one call each. State: '' waiting, a active, d delayed, c completed,
-- f failed. A job without a record is waiting with nothing run yet.
local function record(v)
  if not v then return '', 0, 0, '', '', '' end
  local st, a, sl, ts, tf, lt = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return st, tonumber(a) or 0, tonumber(sl) or 0, ts, tf, lt
end
local function pack(st, a, sl, ts, tf, lt) return st .. '|' .. a .. '|' .. sl .. '|' .. ts .. '|' .. tf .. '|' .. lt end
local function lease_of(v)
  if not v then return nil end
  return string.match(v, '([^|]*)$')
end
-- Attempts and stalls of a record (all a fetch needs of it).
local function runs_of(v)
  if not v then return 0, 0 end
  local a, sl = string.match(v, '^[^|]*|(%d*)|(%d*)|')
  return tonumber(a) or 0, tonumber(sl) or 0
end
-- Rewrites the records of ids with change(st, a, sl, ts, tf, lt) -> the new six values: one HMGET and one HSET.
local function rewrite(T, ids, change)
  if #ids == 0 then return end
  local old = redis.call('HMGET', T.r, unpack(ids))
  local args = {}
  for i, id in ipairs(ids) do
    args[#args + 1] = id
    args[#args + 1] = pack(change(record(old[i])))
  end
  redis.call('HSET', T.r, unpack(args))
end

-- Removes a job's fields from every property hash (its id stays wherever the caller has not removed it).
local function forget(T, ids)
  if #ids == 0 then return end
  for _, p in ipairs(PROPS) do call_chunked('HDEL', T[p], ids) end
end

-- Back to waiting: prioritised jobs by their order score, others at the front (coming back) or back (new) of the line.
local function requeue(T, ids, front)
  if #ids == 0 then return end
  rewrite(T, ids, function(_, a, sl, ts, tf, _) return '', a, sl, ts, tf, '' end)
  local ws = redis.call('HMGET', T.ws, unpack(ids))
  local plain = {}
  for i, id in ipairs(ids) do
    if ws[i] then redis.call('ZADD', T.prio, ws[i], id) else plain[#plain + 1] = id end
  end
  if #plain > 0 then
    if front then
      -- LPUSH reverses: push the last first so that the first given ends up first in line.
      local rev = {}
      for i = #plain, 1, -1 do rev[#rev + 1] = plain[i] end
      redis.call('LPUSH', T.wait, unpack(rev))
    else
      redis.call('RPUSH', T.wait, unpack(plain))
    end
  end
end

-- A shard's view during one function call: the ring's turn counter and the tenants marked changed.
local function shard_state(S)
  local st = { S = S, turn = nil, marked = {} }
  function st.changed(t)
    if not st.marked[t] then
      redis.call('SADD', S.changed, t)
      st.marked[t] = true
    end
  end
  function st.next_turn()
    if not st.turn then
      local last = redis.call('ZRANGE', S.ring, -1, -1, 'WITHSCORES')
      st.turn = tonumber(last[2] or '0')
    end
    st.turn = st.turn + 1
    return st.turn
  end
  -- The ring holds the tenants with waiting jobs; a tenant joins at the back.
  function st.join_ring(T, t)
    if waiting(T) > 0 then redis.call('ZADD', S.ring, 'NX', st.next_turn(), t) end
  end
  -- The due index holds each tenant's earliest delayed job.
  function st.refresh_due(T, t)
    local first = redis.call('ZRANGE', T.delayed, 0, 0, 'WITHSCORES')
    if first[2] then redis.call('ZADD', S.due, first[2], t) else redis.call('ZREM', S.due, t) end
  end
  -- A tenant a client changed (or a worker found): into the tenant set, the ring and the due index.
  function st.admit(T, t)
    redis.call('SADD', S.tenants, t)
    st.changed(t)
    st.join_ring(T, t)
    st.refresh_due(T, t)
  end
  return st
end

-- Pops from the tail of a finished list (the oldest) the jobs finished at or before cutoff, 100 at a time, while the
-- count n (what the caller has removed so far) is below limit. Returns the new count.
local function pop_finished_before(T, list, cutoff, n, limit)
  while n < limit do
    local tail = redis.call('LRANGE', list, -math.min(100, limit - n), -1)
    if #tail == 0 then break end
    local records = redis.call('HMGET', T.r, unpack(tail))
    -- From the oldest (the last) backwards, while finished at or before the cutoff.
    local old = 0
    for i = #tail, 1, -1 do
      local _, _, _, _, tf = record(records[i])
      local f = tonumber(tf)
      if f and f > cutoff then break end
      old = old + 1
    end
    if old == 0 then break end
    forget(T, redis.call('RPOP', list, old))
    n = n + old
    if old < #tail then break end
  end
  return n
end

-- Finished lists are newest first; retention pops from the tail (the oldest). Bounded per call.
local function trim(T, list, keep, age, now)
  local n = 0
  if keep >= 0 then
    local excess = redis.call('LLEN', list) - keep
    if excess > 0 then
      local ids = redis.call('RPOP', list, math.min(excess, 1000))
      forget(T, ids)
      n = #ids
    end
  end
  if age > 0 then
    local cutoff = now - age
    -- Usually the oldest kept job is younger than the cutoff: one look at it, nothing more.
    local oldest = redis.call('LINDEX', list, -1)
    if not oldest then return n end
    local _, _, _, _, oldestTf = record(redis.call('HGET', T.r, oldest))
    local f = tonumber(oldestTf)
    if f and f > cutoff then return n end
    n = pop_finished_before(T, list, cutoff, n, 1000)
  end
  return n
end

-- Failed for good: record, error and stack, onto the failed list. adjust(a, sl) may change attempts and stalls.
local function fail_final(T, ids, errs, stacks, now, adjust)
  local er, sk = {}, {}
  for i, id in ipairs(ids) do
    er[#er + 1] = id; er[#er + 1] = errs[i]
    sk[#sk + 1] = id; sk[#sk + 1] = stacks[i]
  end
  rewrite(T, ids, function(_, a, sl, ts, _, _)
    if adjust then a, sl = adjust(a, sl) end
    return 'f', a, sl, ts, now, ''
  end)
  redis.call('HSET', T.er, unpack(er))
  redis.call('HSET', T.sk, unpack(sk))
  redis.call('LPUSH', T.failed, unpack(ids))
end

-- Writes new jobs of one tenant. jobs: list of {id, data, priority, due}. Returns per job 1 (added) or 0 (an id that
-- exists already, or twice in the batch). Plain waiting jobs join the back of the line in one RPUSH.
local function add_jobs(T, jobs, now)
  local ids = {}
  for i, j in ipairs(jobs) do ids[i] = j[1] end
  local exists = redis.call('HMGET', T.d, unpack(ids))
  local seq = redis.call('HINCRBY', T.stats, 'seq', #jobs) - #jobs
  local seen, res = {}, {}
  local d, ws, r, plain, delayed = {}, {}, {}, {}, {}
  local added = 0
  for i, j in ipairs(jobs) do
    seq = seq + 1
    local id = j[1]
    if exists[i] or seen[id] then
      res[i] = 0
    else
      seen[id] = true
      res[i] = 1
      added = added + 1
      d[#d + 1] = id; d[#d + 1] = j[2]
      local pri, due = tonumber(j[3]), tonumber(j[4])
      local score = nil
      if pri > 0 then
        -- Higher priority first, then FIFO; stays an exact integer below 2^53.
        score = string.format('%.0f', (1000 - pri) * 1099511627776 + (seq % 1099511627776))
        ws[#ws + 1] = id; ws[#ws + 1] = score
      end
      if due > now then
        delayed[#delayed + 1] = due; delayed[#delayed + 1] = id
        r[#r + 1] = id; r[#r + 1] = 'd|0|0|||'
      elseif score then
        redis.call('ZADD', T.prio, score, id)
      else
        plain[#plain + 1] = id
      end
    end
  end
  if added > 0 then redis.call('HSET', T.d, unpack(d)) end
  if #ws > 0 then redis.call('HSET', T.ws, unpack(ws)) end
  if #delayed > 0 then
    redis.call('ZADD', T.delayed, unpack(delayed))
    redis.call('HSET', T.r, unpack(r))
  end
  if #plain > 0 then redis.call('RPUSH', T.wait, unpack(plain)) end
  return res, added
end

local function jobs_from(args, first)
  local jobs = {}
  for i = first, #args, 4 do jobs[#jobs + 1] = { args[i], args[i + 1], args[i + 2], args[i + 3] } end
  return jobs
end

-- KEYS: tenant block, ready, cfg. ARGV: now, tenant, shards, wake channel, then per job: id, data, priority, dueMs.
-- Returns per job 1 (added) or 0 (duplicate). Refuses the whole batch, writing nothing, when the shard count differs
-- from the data's (error LAYOUT) or when it would take the tenant's waiting and delayed jobs beyond the ceiling
-- (error FULL <held> <ceiling>).
local function enqueue(keys, args)
  local T = block(keys, 1, TENANT)
  local ready, cfg = keys[TENANT_SIZE + 1], keys[TENANT_SIZE + 2]
  local now, t, shards, chan = tonumber(args[1]), args[2], args[3], args[4]
  local c = redis.call('HMGET', cfg, 'shards', 'wmax')
  if c[1] and c[1] ~= shards then
    return redis.error_reply('LAYOUT the queue is laid out in ' .. c[1] .. ' shards, this client uses ' .. shards)
  end
  local jobs = jobs_from(args, 5)
  local limit = tonumber(c[2]) or DEFAULT_WMAX
  local held = waiting(T) + redis.call('ZCARD', T.delayed)
  if held + #jobs > limit then
    return redis.error_reply('FULL ' .. held .. ' ' .. limit)
  end
  local res, added = add_jobs(T, jobs, now)
  if added > 0 then
    redis.call('SADD', ready, t)
    redis.call('SPUBLISH', chan, t)
  end
  return res
end

-- Due delayed jobs of one tenant back to waiting (at the front), at most 1000 per call.
local function promote(sh, T, t, now)
  local ids = redis.call('ZRANGEBYSCORE', T.delayed, '-inf', now, 'LIMIT', 0, 1000)
  if #ids == 0 then return 0 end
  redis.call('ZREM', T.delayed, unpack(ids))
  requeue(T, ids, true)
  sh.changed(t)
  return #ids
end

-- A lease that expired: its worker stopped renewing. Jobs still carrying the token go back to waiting (a stall, not
-- an attempt) or fail when they stalled too often. Only jobs of declared tenants are handled; the entries of other
-- tenants stay in the lease record. Returns the tenants left.
local function recover(sh, blocks, token, maxStalls, now)
  local S = sh.S
  local left, leftTenants = {}, {}
  local byTenant = {}
  for _, m in ipairs(lines(redis.call('HGET', S.lj, token))) do
    local t, id = split(m)
    if blocks[t] then
      local ids = byTenant[t]
      if not ids then ids = {}; byTenant[t] = ids end
      ids[#ids + 1] = id
    else
      left[#left + 1] = m
      leftTenants[t] = true
    end
  end
  for t, ids in pairs(byTenant) do
    local T = blocks[t]
    local records = redis.call('HMGET', T.r, unpack(ids))
    local back, failed, errs, stacks = {}, {}, {}, {}
    for i, id in ipairs(ids) do
      -- Jobs of that fetch that finished meanwhile no longer carry its token.
      local _, _, sl, _, _, lt = record(records[i])
      if lt == token then
        if sl + 1 > maxStalls then
          failed[#failed + 1] = id
          errs[#errs + 1] = 'Job ' .. id .. ' stalled ' .. (sl + 1) .. ' times (its worker stopped renewing the lease: crashed or hung), more than the maximum of ' .. maxStalls .. ' stalls.'
          stacks[#stacks + 1] = ''
        else
          back[#back + 1] = id
        end
      end
    end
    if #back + #failed > 0 then
      local stalled = {}
      for _, id in ipairs(back) do stalled[#stalled + 1] = id end
      for _, id in ipairs(failed) do stalled[#stalled + 1] = id end
      redis.call('SREM', T.active, unpack(stalled))
      if #failed > 0 then
        fail_final(T, failed, errs, stacks, now, function(a, sl) return a, sl + 1 end)
        redis.call('HINCRBY', T.stats, 'f', #failed)
      end
      -- The stalled run never finished, so it does not count as an attempt.
      rewrite(T, back, function(st, a, sl, ts, tf, lt) return st, a - 1, sl + 1, ts, tf, lt end)
      requeue(T, back, true)
      sh.join_ring(T, t)
      sh.changed(t)
    end
  end
  if #left == 0 then
    redis.call('HDEL', S.lj, token)
    redis.call('ZREM', S.leases, token)
  else
    redis.call('HSET', S.lj, token, table.concat(left, '\n'))
  end
  return leftTenants
end

local function hints_of(sh, now, k, extra)
  local S = sh.S
  local seen, out = {}, {}
  local function add(t)
    if not seen[t] then seen[t] = true; out[#out + 1] = t end
  end
  for _, t in ipairs(redis.call('ZRANGE', S.ring, 0, k - 1)) do add(t) end
  for _, t in ipairs(redis.call('SRANDMEMBER', S.ready, k)) do add(t) end
  for _, t in ipairs(redis.call('ZRANGEBYSCORE', S.due, '-inf', now, 'LIMIT', 0, k)) do add(t) end
  for t in pairs(extra) do add(t) end
  return out
end

local function next_due(S)
  local nextDue = -1
  local d = redis.call('ZRANGE', S.due, 0, 0, 'WITHSCORES')
  if d[2] then nextDue = tonumber(d[2]) end
  local l = redis.call('ZRANGE', S.leases, 0, 0, 'WITHSCORES')
  if l[2] and (nextDue < 0 or tonumber(l[2]) < nextDue) then nextDue = tonumber(l[2]) end
  return nextDue
end

-- KEYS: shard block, then a tenant block per declared tenant. ARGV: now, leaseUntil, leaseToken, max, perTenantCap
-- (0: none), maxStalls, hints (how many of each kind to return), then per declared tenant: tenant, limit (-1: none;
-- 0: held, skip it; 1: lease at most one job, the probe of a dependency hold).
-- Admits declared tenants that clients changed, promotes their due delayed jobs, recovers expired leases (the jobs of
-- declared tenants), then leases up to max jobs from the declared tenants in ring order, an equal share each.
-- One lease per call: the token scores its expiry in leases and lists its jobs in lj; each job records the token.
-- Returns { nextDueMs or -1, ring size, hint count, hints (tenants the next fetch should declare), then per job:
-- tenant, id, data, attempt }.
local function fetch(keys, args)
  local S = block(keys, 1, SHARD)
  local sh = shard_state(S)
  local now, lease, token = tonumber(args[1]), args[2], args[3]
  local max, cap, maxStalls, k = tonumber(args[4]), tonumber(args[5]), tonumber(args[6]), tonumber(args[7])
  local tenants, blocks, limits = {}, {}, {}
  for i = 8, #args, 2 do
    local t = args[i]
    tenants[#tenants + 1] = t
    blocks[t] = block(keys, SHARD_SIZE + 1 + (#tenants - 1) * TENANT_SIZE, TENANT)
    limits[t] = tonumber(args[i + 1])
  end

  if #tenants > 0 then
    local isReady = redis.call('SMISMEMBER', S.ready, unpack(tenants))
    local admitted = {}
    for i, t in ipairs(tenants) do
      if isReady[i] == 1 then admitted[#admitted + 1] = t end
    end
    if #admitted > 0 then
      redis.call('SREM', S.ready, unpack(admitted))
      for _, t in ipairs(admitted) do sh.admit(blocks[t], t) end
    end
    local dues = redis.call('ZMSCORE', S.due, unpack(tenants))
    for i, t in ipairs(tenants) do
      local due = tonumber(dues[i])
      if due and due <= now then
        local T = blocks[t]
        promote(sh, T, t, now)
        sh.join_ring(T, t)
        sh.refresh_due(T, t)
      end
    end
  end

  local leftover = {}
  for _, expired in ipairs(redis.call('ZRANGEBYSCORE', S.leases, '-inf', now, 'LIMIT', 0, 10)) do
    for t in pairs(recover(sh, blocks, expired, maxStalls, now)) do leftover[t] = true end
  end

  local leased, jobs = {}, {}
  if #tenants > 0 then
    local turns = redis.call('ZMSCORE', S.ring, unpack(tenants))
    local order = {}
    for i, t in ipairs(tenants) do
      if turns[i] then order[#order + 1] = { t, tonumber(turns[i]) } end
    end
    table.sort(order, function(x, y) return x[2] < y[2] end)
    local remaining = #order
    for _, entry in ipairs(order) do
      if #leased >= max then break end
      local t = entry[1]
      local T = blocks[t]
      -- An equal share of what is left keeps one flooding tenant from filling the batch.
      local share = math.max(1, math.floor((max - #leased) / remaining))
      remaining = remaining - 1
      if cap > 0 then share = math.min(share, cap - redis.call('SCARD', T.active)) end
      if limits[t] >= 0 then share = math.min(share, limits[t]) end
      if share > 0 then
        local ids = {}
        if redis.call('ZCARD', T.prio) > 0 then
          local popped = redis.call('ZPOPMIN', T.prio, share)
          for j = 1, #popped, 2 do ids[#ids + 1] = popped[j] end
        end
        if #ids < share then
          local more = redis.call('LPOP', T.wait, share - #ids)
          if more then
            for _, id in ipairs(more) do ids[#ids + 1] = id end
          end
        end
        if #ids > 0 then
          local data = redis.call('HMGET', T.d, unpack(ids))
          local records = redis.call('HMGET', T.r, unpack(ids))
          local got, r = {}, {}
          for j, id in ipairs(ids) do
            if data[j] then
              local a, sl = runs_of(records[j])
              got[#got + 1] = id
              r[#r + 1] = id; r[#r + 1] = pack('a', a + 1, sl, now, '', token)
              leased[#leased + 1] = member(t, id)
              jobs[#jobs + 1] = t; jobs[#jobs + 1] = id; jobs[#jobs + 1] = data[j]; jobs[#jobs + 1] = a + 1
            end
          end
          if #got > 0 then
            redis.call('HSET', T.r, unpack(r))
            redis.call('SADD', T.active, unpack(got))
            sh.changed(t)
          end
        end
      end
      -- Served (or skipped: held, capped): to the back of the ring, or out of it with nothing left waiting.
      if waiting(T) > 0 then
        redis.call('ZADD', S.ring, 'XX', sh.next_turn(), t)
      else
        redis.call('ZREM', S.ring, t)
      end
    end
    if #leased > 0 then
      redis.call('ZADD', S.leases, lease, token)
      -- A token is used once; should a fetch ever run twice with it, its first jobs stay recoverable.
      local earlier = redis.call('HGET', S.lj, token)
      if earlier then table.insert(leased, 1, earlier) end
      redis.call('HSET', S.lj, token, table.concat(leased, '\n'))
    end
  end

  local hints = hints_of(sh, now, k, leftover)
  local result = { next_due(S), redis.call('ZCARD', S.ring), #hints }
  for _, t in ipairs(hints) do result[#result + 1] = t end
  for _, v in ipairs(jobs) do result[#result + 1] = v end
  return result
end

-- KEYS: shard block, then a tenant block per tenant named in ARGV. ARGV: now, completedKeep, completedAgeMs,
-- failedKeep, failedAgeMs, wake channel, tenantCount, tenants..., tokenCount, tokens (leases all of whose jobs have
-- ended here: their records are dropped), groupCount, then per group of completed jobs of one tenant and lease:
-- tenant index, leaseToken, count, ids...; then per other outcome: kind, tenant index, id, leaseToken, dueMs, error,
-- stack. kind: f fail for good, r retry at due, d delay to due without using an attempt, h hand back now.
-- Returns 1 per outcome recorded, in the order given (completed groups first), or 0 where the job's lease token no
-- longer matches: it was recovered or removed meanwhile and is left untouched.
local function finish(keys, args)
  local S = block(keys, 1, SHARD)
  local sh = shard_state(S)
  local now = tonumber(args[1])
  local cKeep, cAge, fKeep, fAge = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  local chan = args[6]
  local tcount = tonumber(args[7])
  local names, blocks = {}, {}
  for i = 1, tcount do
    names[i] = args[7 + i]
    blocks[i] = block(keys, SHARD_SIZE + 1 + (i - 1) * TENANT_SIZE, TENANT)
  end
  local p = 8 + tcount
  local tokens = tonumber(args[p])
  local released = {}
  for i = 1, tokens do released[i] = args[p + i] end
  p = p + tokens + 1
  local res = {}
  local ended, doneC = {}, {}
  local woke = false
  local function add(map, ti, id)
    local ids = map[ti]
    if not ids then ids = {}; map[ti] = ids end
    ids[#ids + 1] = id
  end
  for _ = 1, tonumber(args[p]) do
    local ti, token, n = tonumber(args[p + 1]), args[p + 2], tonumber(args[p + 3])
    local T = blocks[ti]
    local ids = {}
    for j = 1, n do ids[j] = args[p + 3 + j] end
    local records = redis.call('HMGET', T.r, unpack(ids))
    local r = {}
    for j, id in ipairs(ids) do
      -- Attempts, stalls and start kept as they are; finished now; no lease any more.
      local kept, lt = nil, nil
      if records[j] then kept, lt = string.match(records[j], '^[^|]*|([^|]*|[^|]*|[^|]*)|[^|]*|(.*)$') end
      if lt ~= token then
        res[#res + 1] = 0
      else
        res[#res + 1] = 1
        r[#r + 1] = id; r[#r + 1] = 'c|' .. kept .. '|' .. now .. '|'
        add(ended, ti, id)
        add(doneC, ti, id)
      end
    end
    if #r > 0 then redis.call('HSET', T.r, unpack(r)) end
    p = p + 3 + n
  end
  local doneF = {}
  for i = p + 1, #args, 7 do
    local kind, ti, id, token = args[i], tonumber(args[i + 1]), args[i + 2], args[i + 3]
    local T, t = blocks[ti], names[ti]
    if lease_of(redis.call('HGET', T.r, id)) ~= token then
      res[#res + 1] = 0
    else
      add(ended, ti, id)
      if kind == 'f' then
        fail_final(T, { id }, { args[i + 5] }, { args[i + 6] }, now)
        doneF[ti] = (doneF[ti] or 0) + 1
      elseif kind == 'h' then
        -- Handed back unfinished: not an attempt.
        rewrite(T, { id }, function(st, a, sl, ts, tf, lt) return st, a - 1, sl, ts, tf, lt end)
        requeue(T, { id }, true)
        sh.join_ring(T, t)
        woke = true
      else
        local due = args[i + 4]
        local spent = kind == 'd' and 1 or 0
        rewrite(T, { id }, function(_, a, sl, ts, tf, _) return 'd', a - spent, sl, ts, tf, '' end)
        redis.call('HSET', T.er, id, args[i + 5])
        redis.call('HSET', T.sk, id, args[i + 6])
        redis.call('ZADD', T.delayed, due, id)
        redis.call('ZADD', S.due, 'LT', due, t)
        woke = true
      end
      res[#res + 1] = 1
    end
  end
  if #released > 0 then
    redis.call('HDEL', S.lj, unpack(released))
    redis.call('ZREM', S.leases, unpack(released))
  end
  for ti, ids in pairs(ended) do
    redis.call('SREM', blocks[ti].active, unpack(ids))
    sh.changed(names[ti])
  end
  -- Running totals per tenant (never trimmed): operators derive throughput and failure rates from their deltas.
  for ti, ids in pairs(doneC) do
    local T = blocks[ti]
    redis.call('LPUSH', T.completed, unpack(ids))
    trim(T, T.completed, cKeep, cAge, now)
    redis.call('HINCRBY', T.stats, 'c', #ids)
  end
  for ti, n in pairs(doneF) do
    local T = blocks[ti]
    trim(T, T.failed, fKeep, fAge, now)
    redis.call('HINCRBY', T.stats, 'f', n)
  end
  if woke then redis.call('SPUBLISH', chan, '') end
  return res
end

-- KEYS: leases, then the run-record hash (r) of each tenant named in ARGV. ARGV: leaseUntil, tokenCount, tokens,
-- then per job: tenant index, id, leaseToken. Extends the tokens' leases; returns the 1-based positions of jobs no
-- longer held (recovered or removed).
local function renew(keys, args)
  local tokens = tonumber(args[2])
  for i = 3, 2 + tokens do
    redis.call('ZADD', keys[1], 'XX', args[1], args[i])
  end
  local lost = {}
  local n = 0
  for i = 3 + tokens, #args, 3 do
    n = n + 1
    if lease_of(redis.call('HGET', keys[1 + tonumber(args[i])], args[i + 1])) ~= args[i + 2] then lost[#lost + 1] = n end
  end
  return lost
end

-- KEYS: the tenant's r and pg hashes. ARGV: id, leaseToken, progressJson. Only the lease holder may report progress.
local function progress(keys, args)
  if lease_of(redis.call('HGET', keys[1], args[1])) ~= args[2] then return 0 end
  redis.call('HSET', keys[2], args[1], args[3])
  return 1
end

-- KEYS: tenant block, ready. ARGV: action, tenant, id, wake channel. Confined to the tenant's own keys; the workers
-- learn of the change from ready (the tenant's ring place, due index and counts follow on their next fetch).
local function admin(keys, args)
  local T = block(keys, 1, TENANT)
  local ready = keys[TENANT_SIZE + 1]
  local action, t, id, chan = args[1], args[2], args[3], args[4]
  if redis.call('HEXISTS', T.d, id) == 0 then return 0 end
  if action == 'retry' then
    if redis.call('LREM', T.failed, 1, id) == 0 then return 0 end
    -- Fresh attempts, no stalls, no error or progress of the earlier runs.
    redis.call('HDEL', T.r, id)
    redis.call('HDEL', T.er, id)
    redis.call('HDEL', T.sk, id)
    redis.call('HDEL', T.pg, id)
    requeue(T, { id }, false)
  elseif action == 'promote' then
    if redis.call('ZREM', T.delayed, id) == 0 then return 0 end
    requeue(T, { id }, true)
  elseif action == 'remove' then
    redis.call('LREM', T.wait, 0, id)
    redis.call('ZREM', T.prio, id)
    redis.call('ZREM', T.delayed, id)
    -- Removing an active job drops its record and token: the worker's late outcome then finds none and is ignored.
    redis.call('SREM', T.active, id)
    redis.call('LREM', T.completed, 0, id)
    redis.call('LREM', T.failed, 0, id)
    forget(T, { id })
  else
    return redis.error_reply('unknown action ' .. action)
  end
  redis.call('SADD', ready, t)
  if action ~= 'remove' then redis.call('SPUBLISH', chan, t) end
  return 1
end

-- KEYS: tenant block, ready. ARGV: tenant, state (completed|failed), cutoffMs, limit.
-- Deletes the tenant's finished jobs that finished at or before cutoff, oldest first, at most limit.
local function clean(keys, args)
  local T = block(keys, 1, TENANT)
  local list = args[2] == 'completed' and T.completed or T.failed
  local n = pop_finished_before(T, list, tonumber(args[3]), 0, tonumber(args[4]))
  if n > 0 then redis.call('SADD', keys[TENANT_SIZE + 1], args[1]) end
  return n
end

-- The enqueue time (ms) of a stored job, the sixth field of its data ('<byte length>:<bytes>' each), or -1.
local function enqueued_ms(dkey, id)
  if not id then return -1 end
  local d = redis.call('HGET', dkey, id)
  if not d then return -1 end
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

-- KEYS: tenants, ready, then a count block per tenant named in ARGV. ARGV: prune ('1': a tenant found with no job in
-- any state leaves the tenant set), then tenants. Returns per tenant: waiting, active, delayed, completed, failed,
-- the enqueue time (ms) of the older of the jobs at the front of its two lines or -1, and the running totals of jobs
-- completed and failed for good. O(1) per tenant. A tenant in neither the tenant set nor ready has no job in any
-- state, so only its running totals are read: an idle tenant costs one call, not seven.
local function counts(keys, args)
  local tenantsKey, ready = keys[1], keys[2]
  local prune = args[1] == '1'
  local n = #args - 1
  local has = {}
  for i = 2, #args, 1000 do
    local last = math.min(#args, i + 999)
    local inSet = redis.call('SMISMEMBER', tenantsKey, unpack(args, i, last))
    local inReady = redis.call('SMISMEMBER', ready, unpack(args, i, last))
    for j = 1, #inSet do has[i + j - 2] = inSet[j] == 1 or inReady[j] == 1 end
  end
  local out = {}
  for i = 1, n do
    local C = block(keys, 3 + (i - 1) * COUNT_SIZE, COUNT)
    local w, a, d, c, f, oldest = 0, 0, 0, 0, 0, -1
    if has[i] then
      w = redis.call('LLEN', C.wait) + redis.call('ZCARD', C.prio)
      a = redis.call('SCARD', C.active)
      d = redis.call('ZCARD', C.delayed)
      c = redis.call('LLEN', C.completed)
      f = redis.call('LLEN', C.failed)
      if w > 0 then
        -- The fronts of both lines: the next prioritised job and the next plain one; the older counts.
        local x = enqueued_ms(C.d, redis.call('ZRANGE', C.prio, 0, 0)[1])
        local y = enqueued_ms(C.d, redis.call('LINDEX', C.wait, 0))
        oldest = x
        if oldest < 0 or (y >= 0 and y < oldest) then oldest = y end
      end
      if prune and w + a + d + c + f == 0 then redis.call('SREM', tenantsKey, args[1 + i]) end
    end
    local totals = redis.call('HMGET', C.stats, 'c', 'f')
    out[#out + 1] = w; out[#out + 1] = a; out[#out + 1] = d; out[#out + 1] = c; out[#out + 1] = f
    out[#out + 1] = oldest
    out[#out + 1] = tonumber(totals[1]) or 0
    out[#out + 1] = tonumber(totals[2]) or 0
  end
  return out
end

-- KEYS: reporter, changed, tenants, ready. ARGV: reporter (a worker id), lease ms (0: give the claim up, as a worker stops),
-- full ('1': every tenant with jobs; '0': only those changed since the last report), then tenants to add to the
-- tenant set first (a worker's first report: tenants whose jobs predate the set; those without jobs drop out when
-- counted). One worker per shard reports its depth by state: the holder of the reporter key, renewed by each report
-- and expiring after the lease, so another worker takes over when it stops. A report by a worker that has just taken
-- the claim is always full. Returns {0} when another worker reports; else {1 (changed) or 2 (full), tenants to count}.
local function report(keys, args)
  local key, changed, set, ready = keys[1], keys[2], keys[3], keys[4]
  local holder = redis.call('GET', key)
  if holder and holder ~= args[1] then return { 0 } end
  if args[2] == '0' then
    redis.call('DEL', key)
    return { 0 }
  end
  redis.call('SET', key, args[1], 'PX', args[2])
  local full = args[3] == '1' or not holder
  if #args >= 4 then
    for i = 4, #args, 1000 do
      redis.call('SADD', set, unpack(args, i, math.min(#args, i + 999)))
    end
  end
  -- Tenants a client changed and no worker has admitted yet (ready) count as changed too.
  local tenants = redis.call('SUNION', full and set or changed, ready)
  redis.call('DEL', changed)
  local out = { full and 2 or 1 }
  for _, t in ipairs(tenants) do out[#out + 1] = t end
  return out
end

-- KEYS: the tenant's recurring hash, rdue. ARGV: tenant, recurringId, definitionJson, nextDueMs, wake channel.
-- 1 when created or changed, 0 when identical (it keeps its schedule).
local function recurring_upsert(keys, args)
  local defs, rdue = keys[1], keys[2]
  local m = member(args[1], args[2])
  if redis.call('HGET', defs, args[2]) == args[3] and redis.call('ZSCORE', rdue, m) then return 0 end
  redis.call('HSET', defs, args[2], args[3])
  redis.call('ZADD', rdue, args[4], m)
  redis.call('SPUBLISH', args[5], args[1])
  return 1
end

-- KEYS: the tenant's recurring hash, rdue. ARGV: tenant, recurringId. 1 when it existed.
local function recurring_remove(keys, args)
  redis.call('ZREM', keys[2], member(args[1], args[2]))
  return redis.call('HDEL', keys[1], args[2])
end

-- KEYS: shard block, tenant block. ARGV: tenant, recurringId, now, expectedDueMs, nextDueMs (-1: no more), wake
-- channel, then one job: id, data, priority, dueMs. Compare-and-set on the due time, so among competing servers
-- exactly one materialises an occurrence.
local function recurring_claim(keys, args)
  local S = block(keys, 1, SHARD)
  local T = block(keys, SHARD_SIZE + 1, TENANT)
  local sh = shard_state(S)
  local t = args[1]
  local m = member(t, args[2])
  local now = tonumber(args[3])
  local current = redis.call('ZSCORE', S.rdue, m)
  if not current or tonumber(current) ~= tonumber(args[4]) then return 0 end
  if tonumber(args[5]) < 0 then redis.call('ZREM', S.rdue, m) else redis.call('ZADD', S.rdue, args[5], m) end
  local _, added = add_jobs(T, jobs_from(args, 7), now)
  if added > 0 then
    sh.admit(T, t)
    redis.call('SPUBLISH', args[6], t)
  end
  return 1
end

-- Tenant holds (KEYS.md, "Holds"). KEYS: the set of held tenants, the tenant's hold hash. ARGV: changed channel,
-- action, tenant, now, ... A tenant's hash: 'pause' -> JSON {reason, since}; per dependency d: 'dep:d' -> JSON
-- {cause, since}, 'probe:d' -> when the next probe may start (ms), 'iv:d' -> the current probe interval (ms).
-- Every change publishes on the changed channel so workers re-read holds at once.
local function hold(keys, args)
  local HELD, h = keys[1], keys[2]
  local chan, action, t, now = args[1], args[2], args[3], tonumber(args[4])
  local function changed() redis.call('PUBLISH', chan, t) end
  local function tidy()
    -- An empty hash is gone already; the set names only tenants that something holds.
    if redis.call('EXISTS', h) == 0 then redis.call('SREM', HELD, t) end
  end
  if action == 'pause' then
    -- args[5] JSON. Returns 1 when paused now, 0 when it already was (the first reason and time are kept).
    if redis.call('HSETNX', h, 'pause', args[5]) == 0 then return 0 end
    redis.call('SADD', HELD, t)
    changed()
    return 1
  elseif action == 'resume' then
    if redis.call('HDEL', h, 'pause') == 0 then return 0 end
    tidy()
    changed()
    return 1
  end
  local d = args[5]
  local dep, probe, iv = 'dep:' .. d, 'probe:' .. d, 'iv:' .. d
  if action == 'trip' then
    -- args[6] JSON, args[7] first probe interval. Returns 1 when the circuit opened now, 0 when it was open.
    if redis.call('HSETNX', h, dep, args[6]) == 0 then return 0 end
    redis.call('HSET', h, probe, now + tonumber(args[7]), iv, args[7])
    redis.call('SADD', HELD, t)
    changed()
    return 1
  elseif action == 'claim' then
    -- args[6] how long the claim lasts if its worker never reports. 1 when this caller may probe now.
    local at = redis.call('HGET', h, probe)
    if not at or tonumber(at) > now then return 0 end
    redis.call('HSET', h, probe, now + tonumber(args[6]))
    return 1
  elseif action == 'unclaim' then
    -- The claimer found none of the tenant's jobs on its queue: another queue's worker may probe at once.
    if redis.call('HEXISTS', h, dep) == 0 then return 0 end
    redis.call('HSET', h, probe, now)
    changed()
    return 1
  elseif action == 'again' then
    -- The probe failed the same way: wait twice as long (up to args[7]) and record the latest cause (args[6]).
    if redis.call('HEXISTS', h, dep) == 0 then return 0 end
    local next = math.min(tonumber(redis.call('HGET', h, iv) or args[7]) * 2, tonumber(args[7]))
    local held = cjson.decode(redis.call('HGET', h, dep))
    held['cause'] = args[6]
    redis.call('HSET', h, dep, cjson.encode(held), probe, now + next, iv, next)
    changed()
    return 1
  elseif action == 'release' then
    if redis.call('HDEL', h, dep, probe, iv) == 0 then return 0 end
    tidy()
    changed()
    return 1
  end
  return redis.error_reply('unknown action ' .. action)
end

local V = '__VERSION__'
local function register(name, callback) redis.register_function(V .. '_' .. name, callback) end
register('enqueue', enqueue)
register('fetch', fetch)
register('finish', finish)
register('renew', renew)
register('progress', progress)
register('admin', admin)
register('clean', clean)
register('counts', counts)
register('report', report)
register('recurring_upsert', recurring_upsert)
register('recurring_remove', recurring_remove)
register('recurring_claim', recurring_claim)
register('hold', hold)
