using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>A job as it is written at enqueue. <see cref="Tenant"/> is a tenant id or <see cref="QueueLayout.NoTenant"/>.</summary>
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
    int Attempt, int MaxAttempts, long EnqueuedMs, string LeaseToken, int Shard = 0, JobData? Data = null);

/// <summary>
/// What one fetch from one shard leased, when that shard next needs a look (a delayed job due or a lease expiring; -1:
/// nothing scheduled), how many tenants wait in its ring, and the tenants the next fetch should declare.
/// </summary>
internal sealed record FetchResult(IReadOnlyList<FetchedJob> Jobs, long NextDueMs, long RingSize, IReadOnlyList<string> Hints);

/// <summary>Counts by state of the tenants a report looked at: all with jobs (<see cref="Full"/>) or the changed ones.</summary>
internal sealed record DepthReport(bool Full, IReadOnlyList<(string Tenant, JobCounts Counts)> Tenants);

/// <summary>How a leased job ends; see finish in library.lua for the kinds.</summary>
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
/// A job's run record as the functions keep it (hash <c>r</c>, one field per job): state|attempts|stalls|started ms|finished
/// ms|lease token. State: empty waiting, a active, d delayed, c completed, f failed. No record: waiting, nothing run yet.
/// </summary>
internal sealed record RunRecord(JobState State, int Attempts, int Stalls, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string LeaseToken)
{
    public static RunRecord Parse(string? value)
    {
        if (value is null)
        {
            return new RunRecord(JobState.Waiting, 0, 0, null, null, "");
        }
        var f = value.Split('|', 6);
        if (f.Length != 6)
        {
            throw new FormatException($"Corrupt run record '{value}'.");
        }
        static DateTimeOffset? Time(string ms) => ms.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture));
        static int Number(string n) => n.Length == 0 ? 0 : int.Parse(n, CultureInfo.InvariantCulture);
        var state = f[0] switch
        {
            "a" => JobState.Active,
            "d" => JobState.Delayed,
            "c" => JobState.Completed,
            "f" => JobState.Failed,
            _ => JobState.Waiting,
        };
        return new RunRecord(state, Number(f[1]), Number(f[2]), Time(f[3]), Time(f[4]), f[5]);
    }

    public string Pack() =>
        string.Join('|', State switch
        {
            JobState.Active => "a",
            JobState.Delayed => "d",
            JobState.Completed => "c",
            JobState.Failed => "f",
            _ => "",
        }, Attempts.ToString(CultureInfo.InvariantCulture), Stalls.ToString(CultureInfo.InvariantCulture),
            StartedAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "",
            FinishedAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "", LeaseToken);
}

/// <summary>The tenant's waiting and delayed jobs on a queue would pass its ceiling (thrown by enqueue).</summary>
public sealed class JobQueueFullException : InvalidOperationException
{
    public JobQueueFullException(string queue, string tenant, long held, long ceiling, int adding)
        : base($"Tenant {tenant} has {held.ToString("N0", CultureInfo.InvariantCulture)} jobs waiting or delayed on queue '{queue}'; " +
            $"its ceiling is {ceiling.ToString("N0", CultureInfo.InvariantCulture)} (QUEUE_MAX_WAITING_PER_TENANT), so {adding.ToString(CultureInfo.InvariantCulture)} more " +
            "were refused. They can be enqueued again once some have run.")
    {
        (Queue, Tenant, Held, Ceiling) = (queue, tenant, held, ceiling);
    }

    public JobQueueFullException()
    {
        (Queue, Tenant) = ("", "");
    }

    public JobQueueFullException(string message) : base(message)
    {
        (Queue, Tenant) = ("", "");
    }

    public JobQueueFullException(string message, Exception innerException) : base(message, innerException)
    {
        (Queue, Tenant) = ("", "");
    }

    public string Queue { get; }

    public string Tenant { get; }

    public long Held { get; }

    public long Ceiling { get; }
}

/// <summary>
/// Fewer replicas than <see cref="JobQueueOptions.WaitForReplicas"/> acknowledged an enqueue in time: the jobs are on the
/// primary but a failover now could lose them. Enqueue them again with the same ids (a duplicate id is a no-op).
/// </summary>
public sealed class JobQueueNotReplicatedException : InvalidOperationException
{
    public JobQueueNotReplicatedException()
    {
    }

    public JobQueueNotReplicatedException(string message) : base(message)
    {
    }

    public JobQueueNotReplicatedException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>The queue's data is laid out differently from what this process is configured for (shards, layout version).</summary>
public sealed class QueueLayoutMismatchException : InvalidOperationException
{
    public QueueLayoutMismatchException()
    {
    }

    public QueueLayoutMismatchException(string message) : base(message)
    {
    }

    public QueueLayoutMismatchException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// All reads and writes of the queue's keys. Every multi-step transition is one function of the engine's library
/// (Storage/Lua/library.lua) with all its keys declared; this type builds the keys (<see cref="QueueLayout"/>) and
/// shapes arguments and results. Time always comes from the caller (an injected TimeProvider), never from the
/// server, so tests can move the clock.
/// </summary>
internal sealed class QueueStorage(QueueConnection connection, IOptions<JobQueueOptions> options)
{
    /// <summary>Jobs per enqueue call: keeps each call short so other clients are not blocked for long.</summary>
    private const int EnqueueChunk = 500;

    /// <summary>Tenants per counts call.</summary>
    private const int CountsChunk = 250;

    private QueueLayout? _layout;

    public QueueLayout Layout => _layout ??= new QueueLayout(options.Value.KeyPrefix, options.Value.Shards);

    public QueueConnection Connection => connection;

    private async Task<RedisResult> CallAsync(string function, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, bool retry = true)
    {
        var db = await connection.DatabaseAsync();
        return await FunctionLibrary.CallAsync(await connection.MultiplexerAsync(), db, function, keys, args, retry);
    }

    public async Task<bool[]> EnqueueAsync(string queue, IReadOnlyList<JobRecord> jobs, long nowMs)
    {
        await CheckLayoutAsync(queue);
        var added = new bool[jobs.Count];
        // One call per tenant and chunk (a tenant's jobs are in one shard); all sent before any is awaited.
        var calls = new List<(Task<RedisResult> Call, List<int> Positions, string Tenant)>();
        foreach (var group in Enumerable.Range(0, jobs.Count).GroupBy(i => jobs[i].Tenant, StringComparer.Ordinal))
        {
            var tenant = group.Key;
            var shard = Layout.ShardFor(queue, tenant);
            RedisKey[] keys = [.. Layout.TenantBlock(queue, tenant), shard.Ready, shard.Config];
            foreach (var chunk in group.Chunk(EnqueueChunk))
            {
                var args = new List<RedisValue>(4 + (chunk.Length * 4)) { nowMs, tenant, Layout.ShardCount, shard.WakeName };
                foreach (var i in chunk)
                {
                    var j = jobs[i];
                    args.Add(j.Id);
                    args.Add(j.Data.Encode());
                    args.Add(j.Priority);
                    args.Add(j.DueMs);
                }
                calls.Add((CallAsync("enqueue", keys, args), [.. chunk], tenant));
            }
        }
        foreach (var (call, positions, tenant) in calls)
        {
            RedisResult result;
            try
            {
                result = await call;
            }
            catch (RedisServerException e) when (e.Message.StartsWith("FULL ", StringComparison.Ordinal))
            {
                var parts = e.Message.Split(' ');
                throw new JobQueueFullException(queue, tenant, long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture), positions.Count);
            }
            catch (RedisServerException e) when (e.Message.StartsWith("LAYOUT ", StringComparison.Ordinal))
            {
                throw new QueueLayoutMismatchException(
                    $"Cannot enqueue on queue '{queue}': {e.Message[7..]} (JobQueueOptions.Shards, QUEUE_SHARDS). Give every client and worker the same number of shards.", e);
            }
            var r = (RedisResult[])result!;
            for (var k = 0; k < positions.Count; k++)
            {
                added[positions[k]] = (int)r[k] == 1;
            }
        }
        foreach (var tenant in calls.Select(c => c.Tenant).Distinct(StringComparer.Ordinal))
        {
            // Acknowledged only once enough replicas have the jobs.
            var acked = await ReplicatedAsync(Layout.ShardFor(queue, tenant).Ready);
            if (acked < options.Value.WaitForReplicas)
            {
                throw new JobQueueNotReplicatedException(
                    $"Enqueued on queue '{queue}' for tenant {tenant}, but {acked} of {options.Value.WaitForReplicas} replicas acknowledged the jobs within " +
                    $"{options.Value.ReplicaWaitTimeout.TotalMilliseconds:0} ms (QUEUE_WAIT_FOR_REPLICAS): a failover now could lose them. Enqueue them again with the same ids.");
            }
        }
        return added;
    }

    /// <summary>
    /// Waits until <see cref="JobQueueOptions.WaitForReplicas"/> replicas of the primary that holds <paramref name="key"/>
    /// have every write made so far on this connection (<c>WAIT</c>), or the timeout; returns how many did. Without
    /// replicas asked for, returns at once.
    /// </summary>
    public async Task<long> ReplicatedAsync(RedisKey key)
    {
        var wanted = options.Value.WaitForReplicas;
        if (wanted <= 0)
        {
            return 0;
        }
        var server = (await connection.MultiplexerAsync()).GetServer(key);
        // A primary found short of replicas (one died, its replica took over) is not waited on again for a while: every
        // write would otherwise wait the whole timeout. It is asked again after ShortfallMemory.
        if (_shortfalls.TryGetValue(server.EndPoint, out var shortfall) && Environment.TickCount64 - shortfall.At < ShortfallMemoryMs)
        {
            return shortfall.Acknowledged;
        }
        var acked = (long)await server.ExecuteAsync("WAIT", wanted, (long)options.Value.ReplicaWaitTimeout.TotalMilliseconds);
        if (acked < wanted)
        {
            _shortfalls[server.EndPoint] = (Environment.TickCount64, acked);
        }
        else
        {
            _shortfalls.TryRemove(server.EndPoint, out _);
        }
        return acked;
    }

    private const long ShortfallMemoryMs = 5000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<System.Net.EndPoint, (long At, long Acknowledged)> _shortfalls = new();

    public int WaitForReplicas => options.Value.WaitForReplicas;

    /// <param name="tenants">The tenants this fetch declares, each with its limit: -1 none, 0 held (skip), 1 a probe.</param>
    /// <param name="hints">How many tenants of each kind (ring, ready, due) to name for the next fetch.</param>
    public async Task<FetchResult> FetchAsync(
        string queue, int shard, long nowMs, long leaseUntilMs, string leaseToken, int max, int perTenantCap, int maxStalls,
        IReadOnlyList<(string Tenant, int Limit)> tenants, int hints)
    {
        var keys = Layout.Shards(queue)[shard];
        var keyList = new List<RedisKey>(keys.Block.Length + (tenants.Count * QueueLayout.TenantNames.Length));
        keyList.AddRange(keys.Block);
        var args = new List<RedisValue>(7 + (2 * tenants.Count)) { nowMs, leaseUntilMs, leaseToken, max, perTenantCap, maxStalls, hints };
        foreach (var (tenant, limit) in tenants)
        {
            keyList.AddRange(Layout.TenantBlock(queue, tenant));
            args.Add(tenant);
            args.Add(limit);
        }
        // Not retried here: a fetch whose answer was lost leased its jobs under this token; the fetch loop tries again
        // with a new token, and those jobs come back when the lost lease expires.
        var result = (RedisResult[])(await CallAsync("fetch", keyList, args, retry: false))!;
        var hintCount = (int)result[2];
        var hinted = new string[hintCount];
        for (var i = 0; i < hintCount; i++)
        {
            hinted[i] = (string)result[3 + i]!;
        }
        var first = 3 + hintCount;
        var jobs = new List<FetchedJob>((result.Length - first) / 4);
        for (var i = first; i + 3 < result.Length; i += 4)
        {
            var data = JobData.DecodeOrCorrupt((byte[]?)result[i + 2]);
            jobs.Add(new FetchedJob(queue, (string)result[i]!, (string)result[i + 1]!, data.Name, data.Payload, data.Signature,
                data.TraceParent, (int)result[i + 3], data.MaxAttempts, data.EnqueuedMs, leaseToken, shard, data));
        }
        return new FetchResult(jobs, (long)result[0], (long)result[1], hinted);
    }

    /// <param name="releasedTokens">Leases all of whose jobs have ended in this worker, with their shards: their records are dropped.</param>
    /// <returns>Per entry, in order: whether its outcome was recorded (false: the lease was no longer this worker's).</returns>
    public async Task<bool[]> FinishAsync(string queue, IReadOnlyList<FinishEntry> entries, IReadOnlyList<(int Shard, string Token)> releasedTokens, long nowMs, Retention retention)
    {
        var recorded = new bool[entries.Count];
        var shards = entries.Select(e => e.Job.Shard).Concat(releasedTokens.Select(r => r.Shard)).Distinct().ToList();
        var calls = new List<(Task<RedisResult> Call, List<int> Order)>(shards.Count);
        foreach (var shard in shards)
        {
            var positions = Enumerable.Range(0, entries.Count).Where(i => entries[i].Job.Shard == shard).ToList();
            var released = releasedTokens.Where(r => r.Shard == shard).Select(r => r.Token).ToList();
            calls.Add(FinishShard(queue, shard, entries, positions, released, nowMs, retention));
        }
        foreach (var (call, order) in calls)
        {
            var result = (RedisResult[])(await call)!;
            for (var r = 0; r < result.Length; r++)
            {
                recorded[order[r]] = (int)result[r] == 1;
            }
        }
        return recorded;
    }

    private (Task<RedisResult>, List<int>) FinishShard(
        string queue, int shard, IReadOnlyList<FinishEntry> entries, List<int> positions, List<string> released, long nowMs, Retention retention)
    {
        var keys = Layout.Shards(queue)[shard];
        var tenants = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var i in positions)
        {
            tenants.TryAdd(entries[i].Job.Tenant, tenants.Count + 1);
        }
        var keyList = new List<RedisKey>(keys.Block.Length + (tenants.Count * QueueLayout.TenantNames.Length));
        keyList.AddRange(keys.Block);
        var args = new List<RedisValue>(10 + tenants.Count + released.Count + (entries.Count * 2))
        {
            nowMs, retention.CompletedKeep, (long)retention.CompletedAge.TotalMilliseconds,
            retention.FailedKeep, (long)retention.FailedAge.TotalMilliseconds, keys.WakeName, tenants.Count,
        };
        foreach (var tenant in tenants.Keys)
        {
            keyList.AddRange(Layout.TenantBlock(queue, tenant));
            args.Add(tenant);
        }
        args.Add(released.Count);
        foreach (var token in released)
        {
            args.Add(token);
        }
        // Completions, nearly all outcomes, go as groups of ids per tenant and lease: one argument per job, not seven.
        var groups = new Dictionary<(string Tenant, string Token), List<int>>();
        var others = new List<int>();
        foreach (var i in positions)
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
        args.Add(groups.Count);
        var order = new List<int>(positions.Count);
        foreach (var ((tenant, token), members) in groups)
        {
            args.Add(tenants[tenant]);
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
            args.Add(tenants[e.Job.Tenant]);
            args.Add(e.Job.Id);
            args.Add(e.Job.LeaseToken);
            args.Add(e.DueMs);
            args.Add(e.Error);
            args.Add(e.Stack);
            order.Add(i);
        }
        return (CallAsync("finish", keyList, args), order);
    }

    /// <summary>Extends the leases; returns the jobs whose lease was lost (recovered by another worker, or removed).</summary>
    public async Task<IReadOnlyList<FetchedJob>> RenewAsync(string queue, IReadOnlyList<FetchedJob> jobs, long leaseUntilMs)
    {
        if (jobs.Count == 0)
        {
            return [];
        }
        var calls = new List<(Task<RedisResult> Call, List<FetchedJob> Jobs)>();
        foreach (var shardJobs in jobs.GroupBy(j => j.Shard))
        {
            var list = shardJobs.ToList();
            var tenants = new Dictionary<string, int>(StringComparer.Ordinal);
            var keys = new List<RedisKey> { Layout.Shards(queue)[shardJobs.Key].Leases };
            foreach (var job in list)
            {
                if (!tenants.ContainsKey(job.Tenant))
                {
                    tenants[job.Tenant] = tenants.Count + 1;
                    keys.Add(Layout.TenantKey(queue, job.Tenant, "r"));
                }
            }
            var tokens = list.Select(j => j.LeaseToken).Distinct(StringComparer.Ordinal).ToList();
            var args = new List<RedisValue>(2 + tokens.Count + (list.Count * 3)) { leaseUntilMs, tokens.Count };
            foreach (var token in tokens)
            {
                args.Add(token);
            }
            foreach (var j in list)
            {
                args.Add(tenants[j.Tenant]);
                args.Add(j.Id);
                args.Add(j.LeaseToken);
            }
            calls.Add((CallAsync("renew", keys, args), list));
        }
        var lost = new List<FetchedJob>();
        foreach (var (call, list) in calls)
        {
            foreach (var r in (RedisResult[])(await call)!)
            {
                lost.Add(list[(int)r - 1]);
            }
        }
        return lost;
    }

    public async Task<bool> ReportProgressAsync(FetchedJob job, string progressJson) =>
        (int)await CallAsync("progress", [Layout.TenantKey(job.Queue, job.Tenant, "r"), Layout.TenantKey(job.Queue, job.Tenant, "pg")],
            [job.Id, job.LeaseToken, progressJson]) == 1;

    public async Task<bool> AdminAsync(string queue, string action, string tenant, string id)
    {
        var shard = Layout.ShardFor(queue, tenant);
        return (int)await CallAsync("admin", [.. Layout.TenantBlock(queue, tenant), shard.Ready], [action, tenant, id, shard.WakeName]) == 1;
    }

    public async Task<int> CleanAsync(string queue, string tenant, JobState state, long cutoffMs, int limit)
    {
        var shard = Layout.ShardFor(queue, tenant);
        return (int)await CallAsync("clean", [.. Layout.TenantBlock(queue, tenant), shard.Ready],
            [tenant, state == JobState.Completed ? "completed" : "failed", cutoffMs, limit]);
    }

    /// <summary>One tenant's counts by state: plain reads of its own keys only (what a tenant's web app may read).</summary>
    public async Task<JobCounts> CountsAsync(string queue, string tenant)
    {
        RedisKey Key(string name) => Layout.TenantKey(queue, tenant, name);
        var db = await connection.DatabaseAsync();
        var batch = db.CreateBatch();
        var wait = batch.ListLengthAsync(Key("wait"));
        var prio = batch.SortedSetLengthAsync(Key("prio"));
        var active = batch.SetLengthAsync(Key("active"));
        var delayed = batch.SortedSetLengthAsync(Key("delayed"));
        var completed = batch.ListLengthAsync(Key("completed"));
        var failed = batch.ListLengthAsync(Key("failed"));
        batch.Execute();
        return new JobCounts(await wait + await prio, await active, await delayed, await completed, await failed);
    }

    /// <summary>Counts and the oldest waiting job's enqueue time for each tenant: one call per shard and 250 tenants.</summary>
    public async Task<IReadOnlyList<TenantQueueCounts>> TenantCountsAsync(string queue, IReadOnlyList<string> tenants) =>
        await CountsByShardAsync(queue, tenants, prune: false);

    private async Task<IReadOnlyList<TenantQueueCounts>> CountsByShardAsync(string queue, IReadOnlyList<string> tenants, bool prune)
    {
        if (tenants.Count == 0)
        {
            return [];
        }
        var results = new TenantQueueCounts[tenants.Count];
        var calls = new List<(Task<RedisResult> Call, int[] Positions)>();
        foreach (var group in Enumerable.Range(0, tenants.Count).GroupBy(i => Layout.ShardOf(tenants[i])))
        {
            var shard = Layout.Shards(queue)[group.Key];
            foreach (var chunk in group.Chunk(CountsChunk))
            {
                var keys = new List<RedisKey>(2 + (chunk.Length * QueueLayout.CountNames.Length)) { shard.Tenants, shard.Ready };
                var args = new List<RedisValue>(1 + chunk.Length) { prune ? "1" : "0" };
                foreach (var i in chunk)
                {
                    keys.AddRange(Layout.CountBlock(queue, tenants[i]));
                    args.Add(tenants[i]);
                }
                calls.Add((CallAsync("counts", keys, args), chunk));
            }
        }
        foreach (var (call, positions) in calls)
        {
            var r = (RedisResult[])(await call)!;
            for (var k = 0; k < positions.Length; k++)
            {
                var o = k * 8;
                var oldest = (long)r[o + 5];
                results[positions[k]] = new TenantQueueCounts(queue, tenants[positions[k]],
                    new JobCounts((long)r[o], (long)r[o + 1], (long)r[o + 2], (long)r[o + 3], (long)r[o + 4]),
                    oldest < 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(oldest), (long)r[o + 6], (long)r[o + 7]);
            }
        }
        return results;
    }

    public async Task<IReadOnlyList<JobDetails>> PageAsync(string queue, string tenant, JobState state, int offset, int count)
    {
        var db = await connection.DatabaseAsync();
        var ids = await PageIdsAsync(db, queue, tenant, state, offset, count);
        return await DetailsAsync(db, queue, tenant, ids);
    }

    /// <summary>Finished jobs newest first; waiting ones in the order they will be taken; active ones by id.</summary>
    private async Task<RedisValue[]> PageIdsAsync(IDatabase db, string queue, string tenant, JobState state, int offset, int count)
    {
        RedisKey Key(string name) => Layout.TenantKey(queue, tenant, name);
        switch (state)
        {
            case JobState.Waiting:
                var prio = await db.SortedSetRangeByRankAsync(Key("prio"), offset, offset + count - 1);
                var prioCount = prio.Length < count ? await db.SortedSetLengthAsync(Key("prio")) : offset + count;
                var rest = count - prio.Length;
                if (rest == 0)
                {
                    return prio;
                }
                var from = Math.Max(0, offset - prioCount);
                return [.. prio, .. await db.ListRangeAsync(Key("wait"), from, from + rest - 1)];
            case JobState.Active:
                var active = await db.SetMembersAsync(Key("active"));
                return [.. active.Select(v => (string)v!).Order(StringComparer.Ordinal).Skip(offset).Take(count).Select(v => (RedisValue)v)];
            case JobState.Delayed:
                return await db.SortedSetRangeByRankAsync(Key("delayed"), offset, offset + count - 1);
            default:
                return await db.ListRangeAsync(Key(state == JobState.Completed ? "completed" : "failed"), offset, offset + count - 1);
        }
    }

    /// <summary>The details of some of a tenant's jobs: one read per property for all of them, pipelined.</summary>
    private async Task<IReadOnlyList<JobDetails>> DetailsAsync(IDatabase db, string queue, string tenant, RedisValue[] ids)
    {
        if (ids.Length == 0)
        {
            return [];
        }
        RedisKey Key(string name) => Layout.TenantKey(queue, tenant, name);
        var batch = db.CreateBatch();
        string[] props = ["d", "r", "ws", "pg", "er", "sk"];
        var reads = props.Select(p => batch.HashGetAsync(Key(p), ids)).ToArray();
        var due = ids.Select(id => batch.SortedSetScoreAsync(Key("delayed"), id)).ToArray();
        batch.Execute();
        var values = await Task.WhenAll(reads);
        var dues = await Task.WhenAll(due);
        var list = new List<JobDetails>(ids.Length);
        for (var i = 0; i < ids.Length; i++)
        {
            if (values[0][i].IsNull)
            {
                continue;
            }
            string? S(int p) => values[p][i].IsNullOrEmpty ? null : (string?)values[p][i];
            var data = JobData.DecodeOrCorrupt((byte[]?)values[0][i]);
            var run = RunRecord.Parse(S(1));
            // The order score holds the priority: (1000 - priority) * 2^40 + sequence.
            var priority = S(2) is { } ws ? 1000 - (int)(long.Parse(ws, CultureInfo.InvariantCulture) >> 40) : 0;
            list.Add(new JobDetails(
                ids[i]!, queue, tenant == QueueLayout.NoTenant ? null : tenant, data.Name, run.State, data.Payload,
                priority, run.Attempts, data.MaxAttempts, run.Stalls, DateTimeOffset.FromUnixTimeMilliseconds(data.EnqueuedMs), run.StartedAt, run.FinishedAt,
                dues[i] is { } d ? DateTimeOffset.FromUnixTimeMilliseconds((long)d) : null,
                S(3), S(4), S(5), data.TraceParent.Length == 0 ? null : data.TraceParent)
            {
                Stored = data,
            });
        }
        return list;
    }

    public async Task<JobDetails?> GetAsync(string queue, string tenant, string id)
    {
        var db = await connection.DatabaseAsync();
        var details = await DetailsAsync(db, queue, tenant, [id]);
        return details.Count == 0 ? null : details[0];
    }

    /// <summary>Reads a job's stored data as is. For tests.</summary>
    internal async Task<JobData?> ReadDataAsync(string queue, string tenant, string id)
    {
        var db = await connection.DatabaseAsync();
        var d = (byte[]?)await db.HashGetAsync(Layout.TenantKey(queue, tenant, "d"), id);
        return d is null ? null : JobData.Decode(d);
    }

    /// <summary>Rewrites a job's stored data behind the engine's back. Only for tests that tamper with stored jobs.</summary>
    internal async Task TamperAsync(string queue, string tenant, string id, Func<JobData, JobData> change)
    {
        var db = await connection.DatabaseAsync();
        var key = Layout.TenantKey(queue, tenant, "d");
        await db.HashSetAsync(key, id, change(JobData.Decode((byte[])(await db.HashGetAsync(key, id))!)).Encode());
    }

    public async Task<bool> UpsertRecurringAsync(string queue, string tenant, string id, string definitionJson, long nextMs)
    {
        var shard = Layout.ShardFor(queue, tenant);
        return (int)await CallAsync("recurring_upsert", [Layout.TenantKey(queue, tenant, "recurring"), shard.RecurringDue],
            [tenant, id, definitionJson, nextMs, shard.WakeName]) == 1;
    }

    public async Task<bool> RemoveRecurringAsync(string queue, string tenant, string id)
    {
        var shard = Layout.ShardFor(queue, tenant);
        return (int)await CallAsync("recurring_remove", [Layout.TenantKey(queue, tenant, "recurring"), shard.RecurringDue], [tenant, id]) == 1;
    }

    /// <summary>Materialises one due occurrence if its due time is still <paramref name="expectedDueMs"/> (no other server took it).</summary>
    public async Task<bool> ClaimRecurringAsync(string queue, string tenant, string id, long nowMs, long expectedDueMs, long nextDueMs, JobRecord job)
    {
        var shard = Layout.ShardFor(queue, tenant);
        return (int)await CallAsync("recurring_claim", [.. shard.Block, .. Layout.TenantBlock(queue, tenant)],
        [
            tenant, id, nowMs, expectedDueMs, nextDueMs, shard.WakeName, job.Id, job.Data.Encode(), job.Priority, job.DueMs,
        ]) == 1;
    }

    public async Task<IReadOnlyList<(string Id, string Definition, long? NextMs)>> RecurringAsync(string queue, string tenant)
    {
        var db = await connection.DatabaseAsync();
        var shard = Layout.ShardFor(queue, tenant);
        var defs = await db.HashGetAllAsync(Layout.TenantKey(queue, tenant, "recurring"));
        var list = new List<(string, string, long?)>(defs.Length);
        foreach (var d in defs)
        {
            var score = await db.SortedSetScoreAsync(shard.RecurringDue, $"{tenant}|{d.Name}");
            list.Add((d.Name!, d.Value!, score is { } s ? (long)s : null));
        }
        return list;
    }

    /// <summary>Every recurring definition of every tenant (the due indexes name each once).</summary>
    public async Task<IReadOnlyList<(string Tenant, string Id, long NextMs)>> AllRecurringAsync(string queue)
    {
        var db = await connection.DatabaseAsync();
        var list = new List<(string, string, long)>();
        foreach (var shard in Layout.Shards(queue))
        {
            foreach (var entry in await db.SortedSetRangeByRankWithScoresAsync(shard.RecurringDue))
            {
                var (tenant, id) = SplitMember((string)entry.Element!);
                list.Add((tenant, id, (long)entry.Score));
            }
        }
        return list;
    }

    /// <summary>Recurring occurrences of one shard due by <paramref name="nowMs"/>, and the earliest one after.</summary>
    public async Task<(IReadOnlyList<(string Tenant, string Id, long DueMs, string? Definition)> Due, long NextMs)> DueRecurringAsync(string queue, int shard, long nowMs)
    {
        var db = await connection.DatabaseAsync();
        var keys = Layout.Shards(queue)[shard];
        var due = await db.SortedSetRangeByScoreWithScoresAsync(keys.RecurringDue, double.NegativeInfinity, nowMs, take: 100);
        var list = new List<(string, string, long, string?)>(due.Length);
        foreach (var entry in due)
        {
            var (tenant, id) = SplitMember((string)entry.Element!);
            list.Add((tenant, id, (long)entry.Score, await db.HashGetAsync(Layout.TenantKey(queue, tenant, "recurring"), id)));
        }
        var first = await db.SortedSetRangeByRankWithScoresAsync(keys.RecurringDue, 0, 0);
        return (list, first.Length == 0 ? -1 : (long)first[0].Score);
    }

    private static (string Tenant, string Id) SplitMember(string member)
    {
        var sep = member.IndexOf('|', StringComparison.Ordinal);
        return (member[..sep], member[(sep + 1)..]);
    }

    private RedisKey WorkersKey(string queue) => Layout.Shards(queue)[0].Workers;

    public async Task HeartbeatAsync(string queue, string workerId, string reportJson)
    {
        var db = await connection.DatabaseAsync();
        await db.HashSetAsync(WorkersKey(queue), workerId, reportJson);
    }

    public async Task RemoveWorkerAsync(string queue, string workerId)
    {
        var db = await connection.DatabaseAsync();
        await db.HashDeleteAsync(WorkersKey(queue), workerId);
    }

    public async Task<HashEntry[]> WorkersAsync(string queue)
    {
        var db = await connection.DatabaseAsync();
        return await db.HashGetAllAsync(WorkersKey(queue));
    }

    public async Task RemoveWorkersAsync(string queue, IEnumerable<RedisValue> workerIds)
    {
        var db = await connection.DatabaseAsync();
        await db.HashDeleteAsync(WorkersKey(queue), [.. workerIds]);
    }

    /// <summary>
    /// Counts by state of one shard, if this worker is (or now becomes) its one reporter; null while another worker
    /// reports (or after giving the claim up with a zero <paramref name="lease"/>). Full: every tenant with jobs (asked
    /// for, or the claim was just taken); else only the tenants whose counts changed since the last report, all-zero
    /// counts meaning the tenant has no job left (it then leaves the tenant set). <paramref name="seed"/>: tenants to
    /// look at even if the tenant set does not name them.
    /// </summary>
    public async Task<DepthReport?> ReportAsync(string queue, int shard, string reporter, TimeSpan lease, bool full, IReadOnlyCollection<string> seed)
    {
        var keys = Layout.Shards(queue)[shard];
        RedisValue[] args = [reporter, (long)lease.TotalMilliseconds, full ? "1" : "0", .. seed.Where(t => Layout.ShardOf(t) == shard).Select(t => (RedisValue)t)];
        var r = (RedisResult[])(await CallAsync("report", [keys.Reporter, keys.Changed, keys.Tenants, keys.Ready], args))!;
        if ((int)r[0] == 0)
        {
            return null;
        }
        var tenants = r.Skip(1).Select(t => (string)t!).ToList();
        var counts = await CountsByShardAsync(queue, tenants, prune: true);
        return new DepthReport((int)r[0] == 2, [.. counts.Select(c => (c.Tenant, c.Counts))]);
    }

    /// <summary>
    /// Records this deployment's layout and ceiling in every shard of the queue, after checking that the queue's data
    /// is laid out as this process expects (shard count; no keys of layout 1).
    /// </summary>
    /// <exception cref="QueueLayoutMismatchException">The data is laid out otherwise: the message says what to do.</exception>
    public async Task ConfigureAsync(string queue, long maxWaitingPerTenant)
    {
        var db = await connection.DatabaseAsync();
        var recorded = await db.HashGetAsync(Layout.Anchor(queue), "shards");
        if (!recorded.IsNull && (int)recorded != Layout.ShardCount)
        {
            throw new QueueLayoutMismatchException(
                $"Queue '{queue}' is laid out in {recorded} shards in Valkey, but this worker is configured with {Layout.ShardCount} (QUEUE_SHARDS). " +
                $"Either set QUEUE_SHARDS={recorded} everywhere, or stop every worker and web app and move the data with " +
                $"`dotnet Workers.dll relayout --shards {Layout.ShardCount}` (README, \"Changing the number of shards\").");
        }
        if (await db.KeyExistsAsync($"{Layout.Root}:{{{queue}}}:tenants") || await db.KeyExistsAsync($"{Layout.Root}:{{{queue}}}:ring"))
        {
            throw new QueueLayoutMismatchException(
                $"Valkey holds jobs of queue '{queue}' in the key layout of an earlier version ({Layout.Root}:{{{queue}}}:...). " +
                "Stop every worker and web app and move them with `dotnet Workers.dll relayout` (README, \"Upgrading\").");
        }
        foreach (var config in Layout.Shards(queue).Select(s => s.Config).Append(Layout.Anchor(queue)).Distinct())
        {
            await db.HashSetAsync(config,
            [
                new HashEntry("shards", Layout.ShardCount), new HashEntry("layout", QueueLayout.Version), new HashEntry("wmax", maxWaitingPerTenant),
            ]);
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long At, Task Check)> _layoutChecks = new(StringComparer.Ordinal);

    /// <summary>
    /// Refuses to write jobs of <paramref name="queue"/> while its data is recorded with another shard count (they would
    /// land where no worker looks). Checked once a minute per queue: one read, shared by the enqueues that arrive while
    /// it is under way (so they go on in the order they came).
    /// </summary>
    private Task CheckLayoutAsync(string queue)
    {
        var now = Environment.TickCount64;
        if (_layoutChecks.TryGetValue(queue, out var known) && now - known.At < 60_000 && !known.Check.IsFaulted)
        {
            return known.Check;
        }
        var check = ReadLayoutAsync(queue);
        _layoutChecks[queue] = (now, check);
        return check;
    }

    private async Task ReadLayoutAsync(string queue)
    {
        var db = await connection.DatabaseAsync();
        var recorded = await db.HashGetAsync(Layout.Anchor(queue), "shards");
        if (!recorded.IsNull && (int)recorded != Layout.ShardCount)
        {
            throw new QueueLayoutMismatchException(
                $"Cannot enqueue on queue '{queue}': the queue is laid out in {recorded} shards, this client uses {Layout.ShardCount} (JobQueueOptions.Shards, QUEUE_SHARDS). " +
                "Give every client and worker the same number of shards.");
        }
    }

    /// <summary>
    /// One shard's waiting total over its tenants, published by its depth reporter, expiring after
    /// <paramref name="expiry"/> so that a figure nobody refreshes disappears instead of lying (IJobQueueBacklog).
    /// </summary>
    public async Task PublishWaitingAsync(string queue, int shard, long waiting, TimeSpan expiry)
    {
        var db = await connection.DatabaseAsync();
        await db.StringSetAsync(Layout.Shards(queue)[shard].Waiting, waiting, expiry);
    }

    /// <summary>The waiting totals of <paramref name="queues"/> over their shards, in order; null where a shard's figure is missing.</summary>
    public async Task<long?[]> WaitingTotalsAsync(IReadOnlyList<string> queues)
    {
        var db = await connection.DatabaseAsync();
        // One GET per shard, pipelined: each key lives in its own shard's slot, so no multi-key command spans them.
        var reads = queues.Select(q => Layout.Shards(q).Select(s => db.StringGetAsync(s.Waiting)).ToArray()).ToList();
        var totals = new long?[queues.Count];
        for (var i = 0; i < queues.Count; i++)
        {
            var values = await Task.WhenAll(reads[i]);
            totals[i] = values.All(v => !v.IsNull && v.TryParse(out long _)) ? values.Sum(v => (long)v) : null;
        }
        return totals;
    }

    /// <summary>The ceiling of a tenant's waiting and delayed jobs on the queue, as the workers recorded it (null: not yet).</summary>
    public async Task<long?> CeilingAsync(string queue)
    {
        var db = await connection.DatabaseAsync();
        var value = await db.HashGetAsync(Layout.Shards(queue)[0].Config, "wmax");
        return value.IsNull ? null : (long)value;
    }
}
