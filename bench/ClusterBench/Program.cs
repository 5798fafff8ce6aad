using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Queue;
using Queue.Storage;
using StackExchange.Redis;
using Tenancy;

// The job queue spread over a Valkey Cluster. Prints one JSON line.
// VALKEY_URL: one node of the cluster (with a user allowed to FLUSHALL and INFO: the administrator, or the default user
// of a cluster without ACL). SHARDS (3), N jobs (20000), T tenants (12), C concurrency (16), FLOOD waiting jobs of the
// noisy tenant in the fairness run (100000), WAIT replicas per write (QUEUE_WAIT_FOR_REPLICAS; default 1 when the
// cluster has replicas), KILL=1: SIGKILL the master of the first tenant's shard once 30% of the jobs have run, and wait
// for every acknowledged job. FLUSH=0 keeps what the cluster holds (default: every master flushed first).
var url = Environment.GetEnvironmentVariable("VALKEY_URL") ?? throw new InvalidOperationException("Set VALKEY_URL to one node of the cluster.");
var shards = Env("SHARDS", 3);
var n = Env("N", 20_000);
var tenantCount = Env("T", 12);
var concurrency = Env("C", 16);
var flood = Env("FLOOD", 100_000);
var kill = Env("KILL", 0) == 1;
var run = Guid.NewGuid().ToString("N")[..6];
var payload = JsonSerializer.Serialize(new { Kind = "bench", Data = new string('x', 170) });

var adminOptions = ValkeyConnection.Parse(url);
adminOptions.CommandMap = CommandMap.Default;
adminOptions.AllowAdmin = true;
await using var admin = await ConnectionMultiplexer.ConnectAsync(adminOptions);
var masters = Masters(admin);
var replicas = admin.GetServers().Count(s => s.IsConnected && s.IsReplica);
var wait = Env("WAIT", replicas > 0 ? 1 : 0);
if (Env("FLUSH", 1) == 1)
{
    foreach (var master in masters)
    {
        await master.FlushAllDatabasesAsync();
    }
}

var layout = new QueueLayout(JobQueueDefaults.KeyPrefix, shards);
// T tenants, as many on each shard (the first names that fall there): the figures show how the engine spreads shards over
// masters, not how a handful of tenant names happen to hash.
var tenants = Enumerable.Range(1, 100 * tenantCount).Select(i => TenantId.Parse($"bench-{i}"))
    .GroupBy(t => layout.ShardOf(t.Value!))
    .SelectMany(g => g.Take((tenantCount / shards) + (g.Key < tenantCount % shards ? 1 : 0)))
    .ToArray();
// The fairness run: a flooding tenant and a quiet one on another shard.
var floodTenant = Enumerable.Range(1, 1000).Select(i => TenantId.Parse($"flood-{i}")).First(t => layout.ShardOf(t.Value!) == 0);
var quietTenant = Enumerable.Range(1, 1000).Select(i => TenantId.Parse($"quiet-{i}")).First(t => layout.ShardOf(t.Value!) == Math.Min(1, shards - 1));
var settings = new BenchTenants([.. tenants, floodTenant, quietTenant]);

// 1. Enqueue: every tenant in bulk calls, in parallel; acknowledged = returned without an error.
var queue = $"drain-{run}";
var acknowledged = new ConcurrentBag<string>();
var notAcknowledged = 0;
var before = await CountersAsync(admin);
double enqueueJps;
await using (var producer = await BenchHost.StartAsync(url, settings, shards, wait, null))
{
    var sw = Stopwatch.StartNew();
    await Task.WhenAll(tenants.Select((tenant, index) => Task.Run(async () =>
    {
        using var scope = TenantScope.Begin(tenant);
        var share = (n / tenants.Length) + (index < n % tenants.Length ? 1 : 0);
        for (var sent = 0; sent < share; sent += 1000)
        {
            var batch = Enumerable.Range(0, Math.Min(1000, share - sent)).Select(_ => new JobRequest("noop", payload)).ToList();
            try
            {
                foreach (var result in await producer.Client.EnqueueBulkAsync(queue, batch))
                {
                    acknowledged.Add(result.Id);
                }
            }
            catch (JobQueueNotReplicatedException)
            {
                Interlocked.Add(ref notAcknowledged, batch.Count);
            }
        }
    })));
    enqueueJps = n / sw.Elapsed.TotalSeconds;
}

// 2. Drain (with KILL=1, a master dies a third of the way through; its replica takes over).
var runs = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
var expected = acknowledged.ToHashSet(StringComparer.Ordinal);
string? killed = null;
double failoverSeconds = 0;
double drainJps;
await using (var worker = await BenchHost.StartAsync(url, settings, shards, wait, (queue, concurrency, (_, ctx, _) =>
{
    runs.AddOrUpdate(ctx.Id, 1, (_, count) => count + 1);
    return Task.CompletedTask;
})))
{
    var sw = Stopwatch.StartNew();
    if (kill)
    {
        while (runs.Count < expected.Count * 0.3)
        {
            await Task.Delay(5);
        }
        var victim = admin.GetServer(layout.ShardFor(queue, tenants[0].Value!).Ready);
        killed = victim.EndPoint.ToString();
        var info = (string)(await victim.ExecuteAsync("INFO", "server"))!;
        var pid = int.Parse(info.Split("\r\n").First(l => l.StartsWith("process_id:", StringComparison.Ordinal))["process_id:".Length..], CultureInfo.InvariantCulture);
        var victimId = (string)(await victim.ExecuteAsync("CLUSTER", "MYID"))!;
        var witness = Masters(admin).First(m => !m.EndPoint.Equals(victim.EndPoint));
        async Task<string[][]> NodesAsync() => [.. ((string)(await witness.ExecuteAsync("CLUSTER", "NODES"))!)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' '))];
        // Its replicas: the nodes whose master is the victim (CLUSTER NODES: id, address, flags, master id, ...).
        var replicaIds = (await NodesAsync()).Where(f => f[3] == victimId).Select(f => f[0]).ToHashSet(StringComparer.Ordinal);
        var killedAt = Stopwatch.StartNew();
        Process.GetProcessById(pid).Kill();
        // The failover is over once one of them is a master, as another master sees the cluster.
        while (killedAt.Elapsed < TimeSpan.FromMinutes(1)
            && !(await NodesAsync()).Any(f => replicaIds.Contains(f[0]) && f[2].Contains("master", StringComparison.Ordinal)))
        {
            await Task.Delay(20);
        }
        failoverSeconds = killedAt.Elapsed.TotalSeconds;
    }
    var deadline = Stopwatch.StartNew();
    while (!expected.All(runs.ContainsKey) && deadline.Elapsed < TimeSpan.FromMinutes(3))
    {
        await Task.Delay(5);
    }
    drainJps = expected.Count / sw.Elapsed.TotalSeconds;
}
var after = await CountersAsync(admin);

// 3. Fairness: FLOOD jobs of one tenant wait on shard 0 while a quiet tenant's jobs arrive at 100/s on another shard.
// (Not after a kill: the shard whose master died has no replica left, so its acknowledged enqueues are refused.)
double fairP99 = -1;
double fairP50 = -1;
double fairEnqueueP99 = -1;
if (!kill)
{
    var fairQueue = $"fair-{run}";
    await using (var producer = await BenchHost.StartAsync(url, settings, shards, wait, null))
    {
        using var scope = TenantScope.Begin(floodTenant);
        for (var sent = 0; sent < flood; sent += 1000)
        {
            await producer.Client.EnqueueBulkAsync(fairQueue, [.. Enumerable.Range(0, Math.Min(1000, flood - sent)).Select(_ => new JobRequest("noop", payload))]);
        }
    }
    var waits = new ConcurrentBag<double>();
    var enqueueWaits = new ConcurrentBag<double>();
    const int quietJobs = 300;
    var quietDone = new CountdownEvent(quietJobs);
    await using var host = await BenchHost.StartAsync(url, settings, shards, wait, (fairQueue, concurrency, (_, ctx, _) =>
    {
        if (ctx.Tenant == quietTenant)
        {
            waits.Add(Stopwatch.GetElapsedTime(long.Parse(ctx.PayloadJson.AsSpan(1, ctx.PayloadJson.IndexOf(',', StringComparison.Ordinal) - 1), CultureInfo.InvariantCulture)).TotalMilliseconds);
            quietDone.Signal();
        }
        return Task.CompletedTask;
    }));
    await Task.Delay(200);
    var body = payload[1..];
    var started = Stopwatch.GetTimestamp();
    var pending = new List<Task>();
    for (var i = 0; i < quietJobs; i++)
    {
        var due = TimeSpan.FromSeconds(i / 100.0) - Stopwatch.GetElapsedTime(started);
        if (due > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(due);
        }
        using var scope = TenantScope.Begin(quietTenant);
        var sent = Stopwatch.GetTimestamp();
        pending.Add(host.Client.EnqueueAsync(fairQueue, "noop", $"[{sent.ToString(CultureInfo.InvariantCulture)},{body}]")
            .ContinueWith(t => enqueueWaits.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds), TaskScheduler.Default));
    }
    await Task.WhenAll(pending);
    await Task.Run(() => quietDone.Wait(TimeSpan.FromMinutes(2)));
    var sorted = waits.Order().ToArray();
    fairP99 = sorted.Length == 0 ? -1 : sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))];
    var enqueueSorted = enqueueWaits.Order().ToArray();
    fairEnqueueP99 = enqueueSorted.Length == 0 ? -1 : enqueueSorted[Math.Min(enqueueSorted.Length - 1, (int)(enqueueSorted.Length * 0.99))];
    fairP50 = sorted.Length == 0 ? -1 : sorted[sorted.Length / 2];
}

var served = after.ToDictionary(m => m.Key, m => m.Value.Commands - before.GetValueOrDefault(m.Key).Commands);
var total = Math.Max(1, served.Values.Sum());
// Valkey CPU per acknowledged job (its enqueue, run and outcome), per master and over all of them.
var cpuPerJob = after.ToDictionary(m => m.Key, m => Math.Round((m.Value.Cpu - before.GetValueOrDefault(m.Key).Cpu) * 1e6 / Math.Max(1, expected.Count), 1));
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
{
    ["shards"] = shards,
    ["masters"] = masters.Count,
    ["replicas"] = replicas,
    ["wait_replicas"] = wait,
    ["n"] = n,
    ["tenants"] = tenantCount,
    ["concurrency"] = concurrency,
    ["enqueued"] = expected.Count,
    ["not_acknowledged"] = notAcknowledged,
    ["completed_unique"] = runs.Keys.Count(expected.Contains),
    ["lost"] = expected.Count(id => !runs.ContainsKey(id)),
    ["duplicates"] = runs.Values.Sum(c => c - 1),
    ["enqueue_jps"] = Math.Round(enqueueJps),
    ["drain_jps"] = Math.Round(drainJps),
    ["killed"] = killed,
    ["failover_s"] = Math.Round(failoverSeconds, 2),
    ["fair_flood_jobs"] = flood,
    ["fair_p99_ms"] = Math.Round(fairP99, 2),
    ["fair_p50_ms"] = Math.Round(fairP50, 2),
    ["fair_enqueue_p99_ms"] = Math.Round(fairEnqueueP99, 2),
    ["per_node_commands"] = served.OrderBy(m => m.Key, StringComparer.Ordinal).ToDictionary(m => m.Key, m => Math.Round((double)m.Value / total, 3)),
    ["valkey_cpu_us_per_job"] = Math.Round(cpuPerJob.Values.Sum(), 1),
    ["per_node_cpu_us_per_job"] = cpuPerJob.OrderBy(m => m.Key, StringComparer.Ordinal).ToDictionary(m => m.Key, m => m.Value),
}));

static int Env(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var v) ? v : fallback;

static List<IServer> Masters(ConnectionMultiplexer admin) => [.. admin.GetServers().Where(s => s.IsConnected && !s.IsReplica)];

// Commands each master (by address) has processed so far, and the CPU seconds it has used (user + system): the masters
// of the moment, a promoted replica included.
static async Task<Dictionary<string, (long Commands, double Cpu)>> CountersAsync(ConnectionMultiplexer admin)
{
    await admin.ConfigureAsync();
    var result = new Dictionary<string, (long Commands, double Cpu)>(StringComparer.Ordinal);
    foreach (var server in admin.GetServers().Where(s => s.IsConnected && !s.IsReplica))
    {
        var info = ((string)(await server.ExecuteAsync("INFO", "all"))!).Split("\r\n");
        string Field(string name) => info.First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..];
        var cpu = double.Parse(Field("used_cpu_user"), CultureInfo.InvariantCulture) + double.Parse(Field("used_cpu_sys"), CultureInfo.InvariantCulture);
        result[server.EndPoint is IPEndPoint ip ? $"{ip.Address}:{ip.Port}" : server.EndPoint.ToString()!] = (long.Parse(Field("total_commands_processed"), CultureInfo.InvariantCulture), cpu);
    }
    return result;
}

internal sealed class BenchHost(IHost host) : IAsyncDisposable
{
    public IJobQueueClient Client => host.Services.GetRequiredService<IJobQueueClient>();

    public static async Task<BenchHost> StartAsync(string url, ITenantSettingsStore tenants, int shards, int wait,
        (string Queue, int Concurrency, Func<IServiceProvider, JobContext, CancellationToken, Task> Handler)? server)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(tenants);
        builder.Services.AddJobQueueClient(o =>
        {
            o.ConnectionString = url;
            o.MaxPayloadBytes = 4096;
            o.Shards = shards;
            o.WaitForReplicas = wait;
        });
        if (server is { } s)
        {
            // Jobs that were leased when their master died come back when their lease expires: keep that short here.
            builder.Services.AddJobQueueServer().AddQueue(s.Queue, s.Concurrency, o => o.LeaseDuration = TimeSpan.FromSeconds(5)).AddHandler("noop", s.Handler);
        }
        var built = builder.Build();
        await built.StartAsync();
        return new BenchHost(built);
    }

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}
