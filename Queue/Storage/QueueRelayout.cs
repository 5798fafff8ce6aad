using System.Globalization;
using System.Text.Json;
using Queue.Admin;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>What one relayout moved.</summary>
public sealed record RelayoutSummary(IReadOnlyList<string> Queues, int Tenants, long Jobs, long RequeuedRunning);

/// <summary>
/// Moves the queue's data into layout 2 with a given number of shards (KEYS.md, "Changing the layout"): from layout 1
/// (<c>R:{q}:...</c>, one hash per job) or from layout 2 with another shard count. Run with every worker and web app
/// stopped (it refuses while a worker's heartbeat is alive), as an administrator (it scans keys). Per tenant it writes
/// the target first (replacing what an interrupted run left there), then deletes the source, so running it again after
/// a failure finishes the job. Jobs that were running go back to the front of their line without using an attempt.
/// </summary>
internal sealed class QueueRelayout(IConnectionMultiplexer connection, int database, string root, TimeProvider time, Action<string> log)
{
    private const int Chunk = 1000;

    private IDatabase Db => connection.GetDatabase(database);

    public async Task<RelayoutSummary> RunAsync(int shards, CancellationToken cancellationToken)
    {
        var target = new QueueLayout(root, shards);
        var (earlier, laidOut) = await DiscoverAsync();
        await RefuseWhileWorkersLiveAsync(earlier, laidOut, cancellationToken);
        var queues = earlier.Union(laidOut.Keys).Order(StringComparer.Ordinal).ToList();
        var summary = new RelayoutSummary(queues, 0, 0, 0);
        foreach (var queue in queues)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long? ceiling = null;
            if (earlier.Contains(queue))
            {
                summary = Add(summary, await FromLayout1Async(queue, target, cancellationToken));
            }
            if (laidOut.TryGetValue(queue, out var from))
            {
                var source = new QueueLayout(root, from);
                var recorded = await Db.HashGetAsync(source.Shards(queue)[0].Config, "wmax");
                ceiling = recorded.IsNull ? null : (long)recorded;
                if (from != shards)
                {
                    summary = Add(summary, await ReshardAsync(queue, source, target, cancellationToken));
                }
            }
            foreach (var key in target.Shards(queue).Select(s => s.Config).Append(target.Anchor(queue)).Distinct())
            {
                HashEntry[] config = [new("shards", shards), new("layout", QueueLayout.Version)];
                await Db.HashSetAsync(key, ceiling is { } c ? [.. config, new HashEntry("wmax", c)] : config);
            }
            log($"Queue '{queue}': laid out in {shards} shard(s).");
        }
        return summary;
    }

    private static RelayoutSummary Add(RelayoutSummary total, (int Tenants, long Jobs, long Requeued) queue) =>
        total with { Tenants = total.Tenants + queue.Tenants, Jobs = total.Jobs + queue.Jobs, RequeuedRunning = total.RequeuedRunning + queue.Requeued };

    /// <summary>Queues with keys of layout 1, and queues of layout 2 with their recorded shard counts.</summary>
    private async Task<(HashSet<string> Earlier, Dictionary<string, int> LaidOut)> DiscoverAsync()
    {
        var earlier = new HashSet<string>(StringComparer.Ordinal);
        var laidOut = new Dictionary<string, int>(StringComparer.Ordinal);
        await foreach (var key in ScanAsync($"{root}:{{*"))
        {
            var end = key.IndexOf("}:", StringComparison.Ordinal);
            var queue = key[(root.Length + 2)..end];
            if (queue != "holds")
            {
                earlier.Add(queue);
            }
        }
        await foreach (var key in ScanAsync($"{root}:q:{{*}}:cfg"))
        {
            var tag = key[(root.Length + 4)..key.IndexOf('}', StringComparison.Ordinal)];
            if (tag.Contains('/', StringComparison.Ordinal))
            {
                continue;
            }
            // The anchor (the one-shard tag's cfg) records the queue's shard count whatever it is.
            var shards = await Db.HashGetAsync(key, "shards");
            if (!shards.IsNull)
            {
                laidOut[tag] = (int)shards;
            }
        }
        return (earlier, laidOut);
    }

    private async Task RefuseWhileWorkersLiveAsync(IEnumerable<string> earlier, IReadOnlyDictionary<string, int> laidOut, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var keys = earlier.Select(q => (RedisKey)$"{root}:{{{q}}}:workers")
            .Concat(laidOut.Select(q => new QueueLayout(root, q.Value).Shards(q.Key)[0].Workers));
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var entry in await Db.HashGetAllAsync(key))
            {
                if (JsonSerializer.Deserialize<WorkerReport>((string)entry.Value!, JsonSerializerOptions.Web) is { } report && report.ExpiresMs > now)
                {
                    throw new InvalidOperationException(
                        $"Worker {entry.Name} is still running (its heartbeat in {key} is live): stop every worker and web app before moving the queue's data.");
                }
            }
        }
    }

    /// <summary>Layout 1: a hash per job (<c>R:{q}:j:&lt;t&gt;:&lt;id&gt;</c>) and a line per tenant (<c>R:{q}:t:&lt;t&gt;:&lt;name&gt;</c>).</summary>
    private async Task<(int Tenants, long Jobs, long Requeued)> FromLayout1Async(string queue, QueueLayout target, CancellationToken cancellationToken)
    {
        var prefix = $"{root}:{{{queue}}}:";
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var key in ScanAsync(prefix + "t:*"))
        {
            var rest = key[(prefix.Length + 2)..];
            tenants.Add(rest[..rest.IndexOf(':', StringComparison.Ordinal)]);
        }
        await foreach (var key in ScanAsync(prefix + "j:*"))
        {
            var rest = key[(prefix.Length + 2)..];
            tenants.Add(rest[..rest.IndexOf(':', StringComparison.Ordinal)]);
        }
        var seq = (long?)await Db.StringGetAsync(prefix + "seq") ?? 0;
        var recurringDue = await Db.SortedSetRangeByRankWithScoresAsync(prefix + "recurring:due");
        long jobs = 0, requeued = 0;
        foreach (var tenant in tenants)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = new TargetTenant(Db, target, queue, tenant);
            await t.ClearAsync();
            var ids = new List<string>();
            await foreach (var key in ScanAsync($"{prefix}j:{tenant}:*"))
            {
                ids.Add(key[$"{prefix}j:{tenant}:".Length..]);
            }
            foreach (var chunk in ids.Chunk(Chunk))
            {
                var batch = Db.CreateBatch();
                var reads = chunk.Select(id => batch.HashGetAllAsync($"{prefix}j:{tenant}:{id}")).ToArray();
                batch.Execute();
                var hashes = await Task.WhenAll(reads);
                for (var i = 0; i < chunk.Length; i++)
                {
                    var fields = hashes[i].ToDictionary(h => (string)h.Name!, h => h.Value, StringComparer.Ordinal);
                    if (fields.TryGetValue("d", out var data))
                    {
                        t.Job(chunk[i], data, fields);
                    }
                }
                await t.FlushJobsAsync();
            }
            jobs += ids.Count;
            await t.CopyLineAsync("wait", RedisType.List, $"{prefix}t:{tenant}:wait");
            await t.CopyLineAsync("prio", RedisType.SortedSet, $"{prefix}t:{tenant}:prio");
            await t.CopyLineAsync("delayed", RedisType.SortedSet, $"{prefix}t:{tenant}:delayed");
            await t.CopyLineAsync("completed", RedisType.List, $"{prefix}t:{tenant}:completed");
            await t.CopyLineAsync("failed", RedisType.List, $"{prefix}t:{tenant}:failed");
            await t.CopyLineAsync("recurring", RedisType.Hash, $"{prefix}t:{tenant}:recurring");
            await t.CopyLineAsync("stats", RedisType.Hash, $"{prefix}t:{tenant}:stats");
            await Db.HashSetAsync(t.Key("stats"), "seq", seq);
            requeued += await t.RequeueRunningAsync(await Db.SetMembersAsync($"{prefix}t:{tenant}:active"));
            await t.AdmitAsync(recurringDue.Where(e => ((string)e.Element!).StartsWith(tenant + "|", StringComparison.Ordinal)));
            // Only now that the copy is complete does the source go.
            foreach (var chunk in ids.Chunk(Chunk))
            {
                await Db.KeyDeleteAsync([.. chunk.Select(id => (RedisKey)$"{prefix}j:{tenant}:{id}")]);
            }
            foreach (var name in new[] { "wait", "prio", "active", "delayed", "completed", "failed", "recurring", "stats" })
            {
                await Db.KeyDeleteAsync($"{prefix}t:{tenant}:{name}");
            }
            log($"Queue '{queue}', tenant {tenant}: {ids.Count} jobs moved from layout 1.");
        }
        var shared = new List<RedisKey>();
        await foreach (var key in ScanAsync(prefix + "*"))
        {
            shared.Add(key);
        }
        foreach (var key in shared)
        {
            await Db.KeyDeleteAsync(key);
        }
        return (tenants.Count, jobs, requeued);
    }

    /// <summary>Layout 2 with another shard count: each tenant's keys copied under its new shard's tag, then deleted.</summary>
    private async Task<(int Tenants, long Jobs, long Requeued)> ReshardAsync(string queue, QueueLayout source, QueueLayout target, CancellationToken cancellationToken)
    {
        var tenants = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var shard in source.Shards(queue))
        {
            await foreach (var key in ScanAsync($"{root}:t:*:{{{shard.Tag}}}:*"))
            {
                var rest = key[(root.Length + 3)..];
                tenants.Add(rest[..rest.IndexOf(':', StringComparison.Ordinal)]);
            }
        }
        long jobs = 0, requeued = 0;
        foreach (var tenant in tenants)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var from = source.ShardFor(queue, tenant);
            if (source.TenantPrefix(queue, tenant) == target.TenantPrefix(queue, tenant))
            {
                continue;
            }
            var t = new TargetTenant(Db, target, queue, tenant);
            await t.ClearAsync();
            var sourceKeys = source.TenantBlock(queue, tenant);
            for (var i = 0; i < sourceKeys.Length; i++)
            {
                if (await Db.KeyDumpAsync(sourceKeys[i]) is { } dump)
                {
                    await Db.KeyRestoreAsync(t.Block[i], dump);
                }
            }
            jobs += await Db.HashLengthAsync(t.Key("d"));
            // The running jobs' leases were the old shard's: they go back to the front of their line.
            requeued += await t.RequeueRunningAsync(await Db.SetMembersAsync(t.Key("active")));
            var recurring = (await Db.SortedSetRangeByRankWithScoresAsync(from.RecurringDue))
                .Where(e => ((string)e.Element!).StartsWith(tenant + "|", StringComparison.Ordinal)).ToList();
            await t.AdmitAsync(recurring);
            // Out of its old shard's ring, due index and sets.
            await Db.SortedSetRemoveAsync(from.Ring, tenant);
            await Db.SortedSetRemoveAsync(from.Due, tenant);
            foreach (var set in new[] { from.Ready, from.Tenants, from.Changed })
            {
                await Db.SetRemoveAsync(set, tenant);
            }
            await Db.SortedSetRemoveAsync(from.RecurringDue, [.. recurring.Select(e => e.Element)]);
            await Db.KeyDeleteAsync(sourceKeys);
            log($"Queue '{queue}', tenant {tenant}: moved from shard {from.Index} of {source.ShardCount} to shard {target.ShardOf(tenant)} of {target.ShardCount}.");
        }
        // Shard keys of tags the target does not use: nothing of them is needed any more.
        var kept = target.Shards(queue).Select(s => s.Tag).ToHashSet(StringComparer.Ordinal);
        foreach (var shard in source.Shards(queue).Where(s => !kept.Contains(s.Tag)))
        {
            await Db.KeyDeleteAsync([.. shard.Block, shard.Config, shard.Reporter, shard.Workers]);
        }
        return (tenants.Count, jobs, requeued);
    }

    private async IAsyncEnumerable<string> ScanAsync(string pattern)
    {
        foreach (var server in connection.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(database, pattern, pageSize: 1000))
            {
                yield return (string)key!;
            }
        }
    }

    /// <summary>One tenant's keys in the target layout, being written.</summary>
    private sealed class TargetTenant(IDatabase db, QueueLayout layout, string queue, string tenant)
    {
        private readonly Dictionary<string, List<HashEntry>> _pending = new(StringComparer.Ordinal);
        private readonly ShardKeys _shard = layout.ShardFor(queue, tenant);

        public RedisKey[] Block { get; } = layout.TenantBlock(queue, tenant);

        public RedisKey Key(string name) => layout.TenantKey(queue, tenant, name);

        /// <summary>Removes what an interrupted run may have left at the target.</summary>
        public Task<long> ClearAsync() => db.KeyDeleteAsync(Block);

        /// <summary>A layout-1 job hash as the fields of layout 2: its data, its run record, and its extras (priority order, progress, error).</summary>
        public void Job(string id, RedisValue data, Dictionary<string, RedisValue> fields)
        {
            Add("d", id, data);
            string? Text(string name) => fields.TryGetValue(name, out var value) && !value.IsNullOrEmpty ? (string?)value : null;
            DateTimeOffset? Time(string name) => Text(name) is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(ms, CultureInfo.InvariantCulture)) : null;
            var state = Text("st") switch
            {
                "active" => JobState.Active,
                "delayed" => JobState.Delayed,
                "completed" => JobState.Completed,
                "failed" => JobState.Failed,
                _ => JobState.Waiting,
            };
            // A job that was running keeps its state here; RequeueRunningAsync puts it back to waiting.
            var run = new RunRecord(state, int.Parse(Text("a") ?? "0", CultureInfo.InvariantCulture), int.Parse(Text("sl") ?? "0", CultureInfo.InvariantCulture),
                Time("ts"), Time("tf"), "");
            Add("r", id, run.Pack());
            foreach (var name in new[] { "ws", "pg", "er", "sk" })
            {
                if (Text(name) is { } value)
                {
                    Add(name, id, value);
                }
            }
        }

        private void Add(string name, string id, RedisValue value)
        {
            if (!_pending.TryGetValue(name, out var list))
            {
                _pending[name] = list = [];
            }
            list.Add(new HashEntry(id, value));
        }

        public async Task FlushJobsAsync()
        {
            foreach (var (name, entries) in _pending)
            {
                await db.HashSetAsync(Key(name), [.. entries]);
            }
            _pending.Clear();
        }

        public async Task CopyLineAsync(string name, RedisType type, RedisKey from)
        {
            switch (type)
            {
                case RedisType.List:
                    for (long start = 0; ; start += Chunk)
                    {
                        var values = await db.ListRangeAsync(from, start, start + Chunk - 1);
                        if (values.Length == 0)
                        {
                            break;
                        }
                        await db.ListRightPushAsync(Key(name), values);
                    }
                    break;
                case RedisType.SortedSet:
                    for (long start = 0; ; start += Chunk)
                    {
                        var entries = await db.SortedSetRangeByRankWithScoresAsync(from, start, start + Chunk - 1);
                        if (entries.Length == 0)
                        {
                            break;
                        }
                        await db.SortedSetAddAsync(Key(name), entries);
                    }
                    break;
                default:
                    var all = await db.HashGetAllAsync(from);
                    if (all.Length > 0)
                    {
                        await db.HashSetAsync(Key(name), all);
                    }
                    break;
            }
        }

        /// <summary>Running jobs back to the front of their line: their run never finished, so it is not an attempt.</summary>
        public async Task<long> RequeueRunningAsync(RedisValue[] active)
        {
            if (active.Length == 0)
            {
                return 0;
            }
            var scores = await db.HashGetAsync(Key("ws"), active);
            var records = await db.HashGetAsync(Key("r"), active);
            for (var i = active.Length - 1; i >= 0; i--)
            {
                if (scores[i].IsNull)
                {
                    await db.ListLeftPushAsync(Key("wait"), active[i]);
                }
                else
                {
                    await db.SortedSetAddAsync(Key("prio"), active[i], (double)scores[i]);
                }
                var run = RunRecord.Parse(records[i]);
                await db.HashSetAsync(Key("r"), active[i], (run with { State = JobState.Waiting, Attempts = Math.Max(0, run.Attempts - 1), LeaseToken = "" }).Pack());
            }
            await db.KeyDeleteAsync(Key("active"));
            return active.Length;
        }

        /// <summary>Into its shard's tenant set, ring (if anything waits), due index and recurring index.</summary>
        public async Task AdmitAsync(IEnumerable<SortedSetEntry> recurringDue)
        {
            await db.SetAddAsync(_shard.Tenants, tenant);
            await db.SetAddAsync(_shard.Changed, tenant);
            if (await db.ListLengthAsync(Key("wait")) + await db.SortedSetLengthAsync(Key("prio")) > 0)
            {
                var last = await db.SortedSetRangeByRankWithScoresAsync(_shard.Ring, -1, -1);
                await db.SortedSetAddAsync(_shard.Ring, tenant, (last.Length == 0 ? 0 : last[0].Score) + 1, SortedSetWhen.NotExists);
            }
            var first = await db.SortedSetRangeByRankWithScoresAsync(Key("delayed"), 0, 0);
            if (first.Length > 0)
            {
                await db.SortedSetAddAsync(_shard.Due, tenant, first[0].Score);
            }
            var entries = recurringDue.ToArray();
            if (entries.Length > 0)
            {
                await db.SortedSetAddAsync(_shard.RecurringDue, entries);
            }
        }
    }
}
