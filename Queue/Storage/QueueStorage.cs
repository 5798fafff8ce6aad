using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>A job as it is written at enqueue. <see cref="Tenant"/> is a tenant id or <see cref="QueueKeys.NoTenant"/>.</summary>
internal sealed record JobRecord(string Tenant, string Id, JobData Data, int Priority, long DueMs)
{
    public JobRecord(string tenant, string id, string name, string payload, string signature, string traceParent, int priority, int maxAttempts, long dueMs, long enqueuedMs = 0)
        : this(tenant, id, new JobData(name, payload, signature, traceParent, maxAttempts, enqueuedMs), priority, dueMs)
    {
    }
}

/// <summary>A job leased to this worker by one fetch. Holding the lease token is what entitles it to finish the job.</summary>
internal sealed record FetchedJob(
    string Queue, string Tenant, string Id, string Name, string Payload, string Signature, string TraceParent,
    int Attempt, int MaxAttempts, long EnqueuedMs, string LeaseToken);

internal sealed record FetchResult(IReadOnlyList<FetchedJob> Jobs, long NextDueMs);

/// <summary>Counts by state of the tenants a report looked at: all with jobs (<see cref="Full"/>) or the changed ones.</summary>
internal sealed record DepthReport(bool Full, IReadOnlyList<(string Tenant, JobCounts Counts)> Tenants);

/// <summary>How a leased job ends; see finish.lua for the kinds.</summary>
internal enum FinishKind
{
    Complete,
    Fail,
    Retry,
    Delay,
    HandBack,
}

internal sealed record FinishEntry(FinishKind Kind, FetchedJob Job, long DueMs = 0, string Error = "", string Stack = "");

internal sealed record Retention(int CompletedKeep, TimeSpan CompletedAge, int FailedKeep, TimeSpan FailedAge)
{
    public static Retention From(QueueOptions o) => new(o.CompletedKeepCount, o.CompletedMaxAge, o.FailedKeepCount, o.FailedMaxAge);
}

/// <summary>
/// All reads and writes of the queue's keys. Every multi-step transition is one Lua script (Storage/Lua); this type
/// only shapes arguments and results. Time always comes from the caller (an injected TimeProvider), never from
/// the server, so tests can move the clock.
/// </summary>
internal sealed class QueueStorage(QueueConnection connection, IOptions<JobQueueOptions> options)
{
    /// <summary>Jobs per enqueue script call: keeps each call short so other clients are not blocked for long.</summary>
    private const int EnqueueChunk = 500;

    private readonly ConcurrentDictionary<string, QueueKeys> _keys = new(StringComparer.Ordinal);

    public QueueKeys Keys(string queue) => _keys.GetOrAdd(queue, q => new QueueKeys(options.Value.KeyPrefix, q));

    public QueueConnection Connection => connection;

    public async Task<bool[]> EnqueueAsync(string queue, IReadOnlyList<JobRecord> jobs, long nowMs)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var calls = new List<Task<RedisResult>>((jobs.Count + EnqueueChunk - 1) / EnqueueChunk);
        for (var start = 0; start < jobs.Count; start += EnqueueChunk)
        {
            var count = Math.Min(EnqueueChunk, jobs.Count - start);
            var args = new RedisValue[2 + (count * 5)];
            args[0] = keys.Prefix;
            args[1] = nowMs;
            var a = 2;
            for (var i = start; i < start + count; i++)
            {
                var j = jobs[i];
                args[a++] = j.Tenant;
                args[a++] = j.Id;
                args[a++] = j.Data.Encode();
                args[a++] = j.Priority;
                args[a++] = j.DueMs;
            }
            // Not awaited one by one: the chunks go out pipelined on the multiplexer.
            calls.Add(RedisScript.Enqueue.EvaluateAsync(db, keys.Global, args));
        }
        var added = new bool[jobs.Count];
        var n = 0;
        foreach (var call in calls)
        {
            foreach (var r in (RedisResult[])(await call)!)
            {
                added[n++] = (int)r == 1;
            }
        }
        return added;
    }

    /// <param name="only">When set, the one tenant slot to lease from (a single-tenant worker's <c>_</c>).</param>
    /// <param name="held">Tenants not to lease from (limit 0) or to lease at most one job of (limit 1, a probe).</param>
    public async Task<FetchResult> FetchAsync(
        string queue, long nowMs, long leaseUntilMs, string leaseToken, int max, int perTenantCap, int maxStalls,
        IReadOnlyList<(string Tenant, int Limit)>? held = null, string? only = null)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        held ??= [];
        var args = new RedisValue[9 + (2 * held.Count)];
        (args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8]) =
            (keys.Prefix, nowMs, leaseUntilMs, leaseToken, max, perTenantCap, maxStalls, only ?? "", held.Count);
        for (var i = 0; i < held.Count; i++)
        {
            args[9 + (2 * i)] = held[i].Tenant;
            args[10 + (2 * i)] = held[i].Limit;
        }
        var result = (RedisResult[])(await RedisScript.Fetch.EvaluateAsync(db, keys.Global, args))!;
        var jobs = new List<FetchedJob>((result.Length - 1) / 4);
        for (var i = 1; i + 3 < result.Length; i += 4)
        {
            var data = JobData.DecodeOrCorrupt((byte[]?)result[i + 2]);
            jobs.Add(new FetchedJob(queue, (string)result[i]!, (string)result[i + 1]!, data.Name, data.Payload, data.Signature,
                data.TraceParent, (int)result[i + 3], data.MaxAttempts, data.EnqueuedMs, leaseToken));
        }
        return new FetchResult(jobs, (long)result[0]);
    }

    /// <param name="releasedTokens">Leases all of whose jobs have ended in this worker: their records are dropped.</param>
    /// <returns>Per entry, in order: whether its outcome was recorded (false: the lease was no longer this worker's).</returns>
    public async Task<bool[]> FinishAsync(string queue, IReadOnlyList<FinishEntry> entries, IReadOnlyList<string> releasedTokens, long nowMs, Retention retention)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        // Completions, nearly all outcomes, go as groups of ids per tenant and lease: one argument per job, not seven.
        var groups = new Dictionary<(string Tenant, string Token), List<int>>();
        var others = new List<int>();
        for (var i = 0; i < entries.Count; i++)
        {
            var job = entries[i].Job;
            if (entries[i].Kind == FinishKind.Complete)
            {
                if (!groups.TryGetValue((job.Tenant, job.LeaseToken), out var members))
                {
                    groups[(job.Tenant, job.LeaseToken)] = members = [];
                }
                members.Add(i);
            }
            else
            {
                others.Add(i);
            }
        }
        var args = new List<RedisValue>(8 + releasedTokens.Count + (3 * groups.Count) + entries.Count + (6 * others.Count))
        {
            keys.Prefix, nowMs, retention.CompletedKeep, (long)retention.CompletedAge.TotalMilliseconds,
            retention.FailedKeep, (long)retention.FailedAge.TotalMilliseconds, releasedTokens.Count,
        };
        foreach (var token in releasedTokens)
        {
            args.Add(token);
        }
        args.Add(groups.Count);
        var order = new List<int>(entries.Count);
        foreach (var ((tenant, token), members) in groups)
        {
            args.Add(tenant);
            args.Add(token);
            args.Add(members.Count);
            foreach (var i in members)
            {
                args.Add(entries[i].Job.Id);
                order.Add(i);
            }
        }
        foreach (var i in others)
        {
            var e = entries[i];
            args.Add(e.Kind switch
            {
                FinishKind.Fail => "f",
                FinishKind.Retry => "r",
                FinishKind.Delay => "d",
                _ => "h",
            });
            args.Add(e.Job.Tenant);
            args.Add(e.Job.Id);
            args.Add(e.Job.LeaseToken);
            args.Add(e.DueMs);
            args.Add(e.Error);
            args.Add(e.Stack);
            order.Add(i);
        }
        var result = (RedisResult[])(await RedisScript.Finish.EvaluateAsync(db, keys.Global, [.. args]))!;
        var recorded = new bool[entries.Count];
        for (var r = 0; r < result.Length; r++)
        {
            recorded[order[r]] = (int)result[r] == 1;
        }
        return recorded;
    }

    /// <summary>Extends the leases; returns the jobs whose lease was lost (recovered by another worker, or removed).</summary>
    public async Task<IReadOnlyList<FetchedJob>> RenewAsync(string queue, IReadOnlyList<FetchedJob> jobs, long leaseUntilMs)
    {
        if (jobs.Count == 0)
        {
            return [];
        }
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var tokens = jobs.Select(j => j.LeaseToken).Distinct(StringComparer.Ordinal).ToList();
        var args = new RedisValue[3 + tokens.Count + (jobs.Count * 3)];
        args[0] = keys.Prefix;
        args[1] = leaseUntilMs;
        args[2] = tokens.Count;
        var a = 3;
        foreach (var token in tokens)
        {
            args[a++] = token;
        }
        foreach (var j in jobs)
        {
            args[a++] = j.Tenant;
            args[a++] = j.Id;
            args[a++] = j.LeaseToken;
        }
        var lost = (RedisResult[])(await RedisScript.Renew.EvaluateAsync(db, keys.Global, args))!;
        return [.. lost.Select(r => jobs[(int)r - 1])];
    }

    public async Task<bool> ReportProgressAsync(FetchedJob job, string progressJson)
    {
        var keys = Keys(job.Queue);
        var db = await connection.DatabaseAsync();
        return (int)await RedisScript.Progress.EvaluateAsync(db, keys.Global,
            [keys.Prefix, job.Tenant, job.Id, job.LeaseToken, progressJson]) == 1;
    }

    public async Task<bool> AdminAsync(string queue, string action, string tenant, string id, long nowMs)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        return (int)await RedisScript.Admin.EvaluateAsync(db, keys.Global, [keys.Prefix, action, tenant, id, nowMs]) == 1;
    }

    public async Task<int> CleanAsync(string queue, string tenant, JobState state, long cutoffMs, int limit)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        return (int)await RedisScript.Clean.EvaluateAsync(db, keys.Global,
            [keys.Prefix, tenant, SetName(state), cutoffMs, limit]);
    }

    public async Task<JobCounts> CountsAsync(string queue, string tenant)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var batch = db.CreateBatch();
        var wait = batch.ListLengthAsync(keys.Tenant(tenant, "wait"));
        var prio = batch.SortedSetLengthAsync(keys.Tenant(tenant, "prio"));
        var active = batch.SetLengthAsync(keys.Tenant(tenant, "active"));
        var delayed = batch.SortedSetLengthAsync(keys.Tenant(tenant, "delayed"));
        var completed = batch.ListLengthAsync(keys.Tenant(tenant, "completed"));
        var failed = batch.ListLengthAsync(keys.Tenant(tenant, "failed"));
        batch.Execute();
        return new JobCounts(await wait + await prio, await active, await delayed, await completed, await failed);
    }

    /// <summary>Counts and the oldest waiting job's enqueue time for each tenant, in one script call (counts.lua).</summary>
    public async Task<IReadOnlyList<TenantQueueCounts>> TenantCountsAsync(string queue, IReadOnlyList<string> tenants)
    {
        if (tenants.Count == 0)
        {
            return [];
        }
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        RedisValue[] args = [keys.Prefix, .. tenants.Select(t => (RedisValue)t)];
        var r = (RedisResult[])(await RedisScript.Counts.EvaluateAsync(db, keys.Global, args))!;
        var list = new List<TenantQueueCounts>(tenants.Count);
        for (var i = 0; i < tenants.Count; i++)
        {
            var o = i * 8;
            var oldest = (long)r[o + 5];
            list.Add(new TenantQueueCounts(queue, tenants[i], new JobCounts((long)r[o], (long)r[o + 1], (long)r[o + 2], (long)r[o + 3], (long)r[o + 4]),
                oldest < 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(oldest), (long)r[o + 6], (long)r[o + 7]));
        }
        return list;
    }

    public async Task<IReadOnlyList<JobDetails>> PageAsync(string queue, string tenant, JobState state, int offset, int count)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var ids = await PageIdsAsync(db, keys, tenant, state, offset, count);
        var batch = db.CreateBatch();
        var reads = ids.Select(id => batch.HashGetAllAsync(keys.Job(tenant, id!))).ToArray();
        batch.Execute();
        var hashes = await Task.WhenAll(reads);
        return [.. hashes.Select((h, i) => (h, i)).Where(x => x.h.Length > 0).Select(x => ToDetails(queue, tenant, ids[x.i]!, x.h))];
    }

    /// <summary>Finished jobs newest first; waiting ones in the order they will be taken; active ones by id.</summary>
    private static async Task<RedisValue[]> PageIdsAsync(IDatabase db, QueueKeys keys, string tenant, JobState state, int offset, int count)
    {
        switch (state)
        {
            case JobState.Waiting:
                var prio = await db.SortedSetRangeByRankAsync(keys.Tenant(tenant, "prio"), offset, offset + count - 1);
                var prioCount = prio.Length < count ? await db.SortedSetLengthAsync(keys.Tenant(tenant, "prio")) : offset + count;
                var rest = count - prio.Length;
                if (rest == 0)
                {
                    return prio;
                }
                var from = Math.Max(0, offset - prioCount);
                return [.. prio, .. await db.ListRangeAsync(keys.Tenant(tenant, "wait"), from, from + rest - 1)];
            case JobState.Active:
                var active = await db.SetMembersAsync(keys.Tenant(tenant, "active"));
                return [.. active.Select(v => (string)v!).Order(StringComparer.Ordinal).Skip(offset).Take(count).Select(v => (RedisValue)v)];
            case JobState.Delayed:
                return await db.SortedSetRangeByRankAsync(keys.Tenant(tenant, "delayed"), offset, offset + count - 1);
            default:
                return await db.ListRangeAsync(keys.Tenant(tenant, SetName(state)), offset, offset + count - 1);
        }
    }

    public async Task<JobDetails?> GetAsync(string queue, string tenant, string id)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var hash = await db.HashGetAllAsync(keys.Job(tenant, id));
        return hash.Length == 0 ? null : ToDetails(queue, tenant, id, hash);
    }

    /// <summary>Reads a job's stored data as is. For tests.</summary>
    internal async Task<JobData?> ReadDataAsync(string queue, string tenant, string id)
    {
        var db = await connection.DatabaseAsync();
        var d = (byte[]?)await db.HashGetAsync(Keys(queue).Job(tenant, id), "d");
        return d is null ? null : JobData.Decode(d);
    }

    /// <summary>Rewrites a job's stored data behind the engine's back. Only for tests that tamper with stored jobs.</summary>
    internal async Task TamperAsync(string queue, string tenant, string id, Func<JobData, JobData> change)
    {
        var db = await connection.DatabaseAsync();
        var key = Keys(queue).Job(tenant, id);
        await db.HashSetAsync(key, "d", change(JobData.Decode((byte[])(await db.HashGetAsync(key, "d"))!)).Encode());
    }

    public async Task<bool> UpsertRecurringAsync(string queue, string tenant, string id, string definitionJson, long nextMs)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        return (int)await RedisScript.Recurring.EvaluateAsync(db, keys.Global,
            [keys.Prefix, "upsert", tenant, id, definitionJson, nextMs]) == 1;
    }

    public async Task<bool> RemoveRecurringAsync(string queue, string tenant, string id)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        return (int)await RedisScript.Recurring.EvaluateAsync(db, keys.Global, [keys.Prefix, "remove", tenant, id]) == 1;
    }

    /// <summary>Materialises one due occurrence if its due time is still <paramref name="expectedDueMs"/> (no other server took it).</summary>
    public async Task<bool> ClaimRecurringAsync(string queue, string tenant, string id, long nowMs, long expectedDueMs, long nextDueMs, JobRecord job)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        return (int)await RedisScript.Recurring.EvaluateAsync(db, keys.Global,
        [
            keys.Prefix, "claim", tenant, id, nowMs, expectedDueMs, nextDueMs, job.Tenant, job.Id, job.Data.Encode(), job.Priority, job.DueMs,
        ]) == 1;
    }

    public async Task<IReadOnlyList<(string Id, string Definition, long? NextMs)>> RecurringAsync(string queue, string tenant)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var defs = await db.HashGetAllAsync(keys.Tenant(tenant, "recurring"));
        var list = new List<(string, string, long?)>(defs.Length);
        foreach (var d in defs)
        {
            var score = await db.SortedSetScoreAsync(keys.RecurringDue, $"{tenant}|{d.Name}");
            list.Add((d.Name!, d.Value!, score is { } s ? (long)s : null));
        }
        return list;
    }

    /// <summary>Every recurring definition of every tenant (the due index names each once).</summary>
    public async Task<IReadOnlyList<(string Tenant, string Id, long NextMs)>> AllRecurringAsync(string queue)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var all = await db.SortedSetRangeByRankWithScoresAsync(keys.RecurringDue);
        return [.. all.Select(entry =>
        {
            var m = (string)entry.Element!;
            var sep = m.IndexOf('|', StringComparison.Ordinal);
            return (m[..sep], m[(sep + 1)..], (long)entry.Score);
        })];
    }

    /// <summary>Recurring occurrences due by <paramref name="nowMs"/> over all tenants, and the earliest one after.</summary>
    public async Task<(IReadOnlyList<(string Tenant, string Id, long DueMs, string? Definition)> Due, long NextMs)> DueRecurringAsync(string queue, long nowMs)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        var due = await db.SortedSetRangeByScoreWithScoresAsync(keys.RecurringDue, double.NegativeInfinity, nowMs, take: 100);
        var list = new List<(string, string, long, string?)>(due.Length);
        foreach (var entry in due)
        {
            var m = (string)entry.Element!;
            var sep = m.IndexOf('|', StringComparison.Ordinal);
            var (tenant, id) = (m[..sep], m[(sep + 1)..]);
            list.Add((tenant, id, (long)entry.Score, await db.HashGetAsync(keys.Tenant(tenant, "recurring"), id)));
        }
        var first = await db.SortedSetRangeByRankWithScoresAsync(keys.RecurringDue, 0, 0);
        return (list, first.Length == 0 ? -1 : (long)first[0].Score);
    }

    public async Task HeartbeatAsync(string queue, string workerId, string reportJson)
    {
        var db = await connection.DatabaseAsync();
        await db.HashSetAsync(Keys(queue).Workers, workerId, reportJson);
    }

    public async Task RemoveWorkerAsync(string queue, string workerId)
    {
        var db = await connection.DatabaseAsync();
        await db.HashDeleteAsync(Keys(queue).Workers, workerId);
    }

    public async Task<HashEntry[]> WorkersAsync(string queue)
    {
        var db = await connection.DatabaseAsync();
        return await db.HashGetAllAsync(Keys(queue).Workers);
    }

    public async Task RemoveWorkersAsync(string queue, IEnumerable<RedisValue> workerIds)
    {
        var db = await connection.DatabaseAsync();
        await db.HashDeleteAsync(Keys(queue).Workers, [.. workerIds]);
    }

    /// <summary>
    /// Counts by state, if this worker is (or now becomes) the queue's one reporter; null while another worker reports
    /// (or after giving the claim up with a zero <paramref name="lease"/>). Full: every tenant with jobs (asked for, or
    /// the claim was just taken); else only the tenants whose counts changed since the last report, all-zero counts
    /// meaning the tenant has no job left. <paramref name="seed"/>: tenants to look at even if the tenant set does not
    /// name them (jobs enqueued before it existed). See report.lua.
    /// </summary>
    public async Task<DepthReport?> ReportAsync(string queue, string reporter, TimeSpan lease, bool full, IReadOnlyCollection<string> seed)
    {
        var keys = Keys(queue);
        var db = await connection.DatabaseAsync();
        RedisValue[] args = [keys.Prefix, reporter, (long)lease.TotalMilliseconds, full ? "1" : "0", .. seed.Select(t => (RedisValue)t)];
        var r = (RedisResult[])(await RedisScript.Report.EvaluateAsync(db, keys.Global, args))!;
        if ((int)r[0] == 0)
        {
            return null;
        }
        var list = new List<(string, JobCounts)>((r.Length - 1) / 6);
        for (var i = 1; i + 5 < r.Length; i += 6)
        {
            list.Add(((string)r[i]!, new JobCounts((long)r[i + 1], (long)r[i + 2], (long)r[i + 3], (long)r[i + 4], (long)r[i + 5])));
        }
        return new DepthReport((int)r[0] == 2, list);
    }

    /// <summary>
    /// The queue's waiting total over every tenant, published by its depth reporter, expiring after
    /// <paramref name="expiry"/> so that a figure nobody refreshes disappears instead of lying (IJobQueueBacklog).
    /// </summary>
    public async Task PublishWaitingAsync(string queue, long waiting, TimeSpan expiry)
    {
        var db = await connection.DatabaseAsync();
        await db.StringSetAsync(Keys(queue).Waiting, waiting, expiry);
    }

    /// <summary>The published waiting totals of <paramref name="queues"/>, in order; null where none is published.</summary>
    public async Task<RedisValue[]> WaitingTotalsAsync(IReadOnlyList<string> queues)
    {
        var db = await connection.DatabaseAsync();
        return await Task.WhenAll(queues.Select(q => db.StringGetAsync(Keys(q).Waiting)));
    }

    private static string SetName(JobState state) => state switch
    {
        JobState.Waiting => "wait",
        JobState.Active => "active",
        JobState.Delayed => "delayed",
        JobState.Completed => "completed",
        _ => "failed",
    };


    private static JobState ParseState(string? st) => st switch
    {
        "active" => JobState.Active,
        "delayed" => JobState.Delayed,
        "completed" => JobState.Completed,
        "failed" => JobState.Failed,
        _ => JobState.Waiting,
    };

    private static JobDetails ToDetails(string queue, string tenant, string id, HashEntry[] hash)
    {
        var data = JobData.DecodeOrCorrupt((byte[]?)hash.FirstOrDefault(h => h.Name == "d").Value);
        var f = hash.Where(h => h.Name != "d").ToDictionary(h => (string)h.Name!, h => (string?)h.Value, StringComparer.Ordinal);
        string? S(string k) => f.TryGetValue(k, out var v) && !string.IsNullOrEmpty(v) ? v : null;
        int I(string k) => S(k) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : 0;
        DateTimeOffset? T(string k) => S(k) is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(v, CultureInfo.InvariantCulture)) : null;
        return new JobDetails(
            id, queue, tenant == QueueKeys.NoTenant ? null : tenant, data.Name, ParseState(S("st")), data.Payload,
            I("pr"), I("a"), data.MaxAttempts, I("sl"), DateTimeOffset.FromUnixTimeMilliseconds(data.EnqueuedMs), T("ts"), T("tf"), T("du"),
            S("pg"), S("er"), S("sk"), data.TraceParent.Length == 0 ? null : data.TraceParent);
    }
}
