using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Queue;
using Tenancy;

// Throughput and latency of the job queue against a real Valkey/redis-server. Prints one JSON line.
// VALKEY_URL (required), N jobs (20000), T tenants (4), C concurrency (16), RATE offered jobs/s for latency (2000),
// FLOOD waiting jobs of the noisy tenant in the fairness run (100000), PREFETCH (QueueOptions.Prefetch; unset: the default),
// RETENTION of completed jobs: default (the library's: the newest 1,000 per tenant and queue, at most a day old),
// all (every completed job kept), none (removed on completion); bench/bullmq-baseline takes the same names.
// ACL=1: every tenant enqueues as its own web app's Valkey user and the worker runs as `workers` (ValkeyAcl's rules,
// created here with ACL SETUSER: VALKEY_URL must then be a user that may, e.g. a bench server's default user).
// ENCRYPT=0|1: QUEUE_ENCRYPT_PAYLOADS (default: the library's, on).
// Everything runs with the library's default options otherwise (retention included), ~200-byte payloads, no-op handlers.
var url = Environment.GetEnvironmentVariable("VALKEY_URL") ?? throw new InvalidOperationException("Set VALKEY_URL.");
var n = Env("N", 20_000);
var tenantCount = Env("T", 4);
var concurrency = Env("C", 16);
var rate = Env("RATE", 2000);
var flood = Env("FLOOD", 100_000);
BenchHost.Prefetch = int.TryParse(Environment.GetEnvironmentVariable("PREFETCH"), CultureInfo.InvariantCulture, out var ahead) ? ahead : null;
BenchHost.RetentionName = Environment.GetEnvironmentVariable("RETENTION") is { Length: > 0 } r ? r : "default";
BenchHost.Encrypt = Environment.GetEnvironmentVariable("ENCRYPT") is { Length: > 0 } e ? e == "1" : null;
var run = Guid.NewGuid().ToString("N")[..8];
var tenants = Enumerable.Range(1, tenantCount).Select(i => TenantId.Parse($"bench-{i}")).ToArray();
var settings = new BenchTenants([.. tenants, TenantId.Parse("flood"), TenantId.Parse("quiet")]);
var payload = JsonSerializer.Serialize(new { Kind = "bench", Data = new string('x', 170) });
await using var valkey = await ValkeyMeter.ConnectAsync(url);
var acl = Environment.GetEnvironmentVariable("ACL") == "1";
if (acl)
{
    // Each tenant's web app user and the workers' user, with the deployment's rules (ValkeyAcl) and a password of the run.
    foreach (var user in new[] { ValkeyAcl.Workers }.Concat(settings.Current.Tenants.Keys.Select(ValkeyAcl.WebUser)))
    {
        await valkey.AclSetUserAsync(user, "bench-" + run, ValkeyAcl.Rules(user));
    }
    BenchHost.UserUrl = user => BenchHost.WithUser(url, user, "bench-" + run);
}

// PHASES=footprint: what tenants leave in Valkey. T tenants each run JOBS jobs (default 10) on one queue with the
// default retention, then the keys and memory they occupy once idle are measured against the empty server, per tenant.
if (Environment.GetEnvironmentVariable("PHASES") is "footprint")
{
    var jobs = Env("JOBS", 10);
    var queue = $"foot-{run}";
    var (keysBefore, memoryBefore) = await valkey.FootprintAsync();
    var done = new CountdownEvent(tenantCount * jobs);
    await using (var host = await BenchHost.StartAsync(url, settings, (queue, concurrency, (_, _, _) =>
    {
        done.Signal();
        return Task.CompletedTask;
    })))
    {
        await EnqueueAllAsync(host.Client, queue, tenants, tenantCount * jobs, payload, chunk: jobs);
        await Task.Run(() => done.Wait());
        await host.WaitCompletedAsync(queue, tenants, tenantCount * jobs);
    }
    var (keysAfter, memoryAfter) = await valkey.FootprintAsync();
    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["tenants"] = tenantCount,
        ["completed_jobs_per_tenant"] = jobs,
        ["keys_per_tenant"] = Math.Round((keysAfter - keysBefore) / (double)tenantCount, 1),
        ["bytes_per_tenant"] = Math.Round((memoryAfter - memoryBefore) / (double)tenantCount),
        ["bytes_per_kept_job"] = Math.Round((memoryAfter - memoryBefore) / (double)(tenantCount * jobs)),
    }));
    return;
}

// 0. Warm-up (not measured): JIT and connection setup out of the figures.
{
    var queue = $"warm-{run}";
    var warm = Math.Min(n, 5000);
    var done = new CountdownEvent(warm);
    await using var host = await BenchHost.StartAsync(url, settings, (queue, concurrency, (_, _, _) =>
    {
        done.Signal();
        return Task.CompletedTask;
    }));
    await EnqueueAllAsync(host.Client, queue, tenants, warm, payload, chunk: 100);
    await Task.Run(() => done.Wait());
    await OfferAsync(host.Client, queue, tenants, 500, 5000, payload);
}

// 1. Bulk enqueue: every tenant enqueues its share in bulk calls, tenants in parallel.
var enqueueQueue = $"enq-{run}";
double enqueueJps, drainJps, enqueueCpuUs, drainCpuUs;
ValkeyCost enqueueServer, drainServer;
await using (var host = await BenchHost.StartAsync(url, settings, null))
{
    var server = await valkey.SampleAsync();
    var sw = Stopwatch.StartNew();
    var cpu = Cpu();
    await EnqueueAllAsync(host.Client, enqueueQueue, tenants, n, payload);
    enqueueJps = n / sw.Elapsed.TotalSeconds;
    enqueueCpuUs = (Cpu() - cpu).TotalMicroseconds / n;
    enqueueServer = (await valkey.SampleAsync()).Minus(server, n);
}

// 2. Drain: the jobs enqueued above, no-op handler, concurrency C.
{
    var done = new CountdownEvent(n);
    var server = await valkey.SampleAsync();
    var sw = Stopwatch.StartNew();
    var cpu = Cpu();
    await using var host = await BenchHost.StartAsync(url, settings, (enqueueQueue, concurrency, (_, _, _) =>
    {
        done.Signal();
        return Task.CompletedTask;
    }));
    await Task.Run(() => done.Wait());
    await host.WaitCompletedAsync(enqueueQueue, tenants, n);
    drainJps = n / sw.Elapsed.TotalSeconds;
    drainCpuUs = (Cpu() - cpu).TotalMicroseconds / n;
    drainServer = (await valkey.SampleAsync()).Minus(server, n);
}

// PHASES=throughput stops after enqueue and drain (for quick iterations); the default runs everything.
var all = Environment.GetEnvironmentVariable("PHASES") is not "throughput";

// 3. Combined: producers and the worker at once.
double combinedJps = 0;
if (all)
{
    var queue = $"comb-{run}";
    var done = new CountdownEvent(n);
    await using var host = await BenchHost.StartAsync(url, settings, (queue, concurrency, (_, _, _) =>
    {
        done.Signal();
        return Task.CompletedTask;
    }));
    var sw = Stopwatch.StartNew();
    await EnqueueAllAsync(host.Client, queue, tenants, n, payload, chunk: 100);
    await Task.Run(() => done.Wait());
    await host.WaitCompletedAsync(queue, tenants, n);
    combinedJps = n / sw.Elapsed.TotalSeconds;
}

// 4. Latency from enqueue to handler start at a fixed offered rate, one job per enqueue call.
double p50 = 0, p99 = 0;
if (all)
{
    var queue = $"lat-{run}";
    var count = Math.Max(rate * 3, 1000);
    var latencies = new ConcurrentBag<double>();
    var done = new CountdownEvent(count);
    await using var host = await BenchHost.StartAsync(url, settings, (queue, concurrency, (_, ctx, _) =>
    {
        latencies.Add(Stopwatch.GetElapsedTime(long.Parse(ctx.PayloadJson.AsSpan(1, ctx.PayloadJson.IndexOf(',', StringComparison.Ordinal) - 1), CultureInfo.InvariantCulture)).TotalMilliseconds);
        done.Signal();
        return Task.CompletedTask;
    }));
    await OfferAsync(host.Client, queue, tenants, count, rate, payload);
    await Task.Run(() => done.Wait());
    (p50, p99) = Percentiles(latencies);
}

// 5. Fairness: one tenant has FLOOD jobs waiting; a quiet tenant's jobs arrive at 100/s meanwhile.
double fairP99 = 0;
if (all)
{
    var queue = $"fair-{run}";
    await using (var producer = await BenchHost.StartAsync(url, settings, null))
    {
        await EnqueueAllAsync(producer.Client, queue, [TenantId.Parse("flood")], flood, payload);
    }
    var quietWaits = new ConcurrentBag<double>();
    const int quietJobs = 300;
    var quietDone = new CountdownEvent(quietJobs);
    await using var host = await BenchHost.StartAsync(url, settings, (queue, concurrency, (_, ctx, _) =>
    {
        if (ctx.Tenant?.Value == "quiet")
        {
            quietWaits.Add(Stopwatch.GetElapsedTime(long.Parse(ctx.PayloadJson.AsSpan(1, ctx.PayloadJson.IndexOf(',', StringComparison.Ordinal) - 1), CultureInfo.InvariantCulture)).TotalMilliseconds);
            quietDone.Signal();
        }
        return Task.CompletedTask;
    }));
    await Task.Delay(200);
    await OfferAsync(host.Client, queue, [TenantId.Parse("quiet")], quietJobs, 100, payload);
    await Task.Run(() => quietDone.Wait());
    fairP99 = Percentiles(quietWaits).P99;
}

Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["n"] = n,
    ["tenants"] = tenantCount,
    ["concurrency"] = concurrency,
    ["prefetch"] = BenchHost.Prefetch?.ToString(CultureInfo.InvariantCulture) ?? "default",
    ["enqueue_jps"] = Math.Round(enqueueJps),
    ["drain_jps"] = Math.Round(drainJps),
    ["combined_jps"] = Math.Round(combinedJps),
    ["lat_rate_jps"] = rate,
    ["lat_p50_ms"] = Math.Round(p50, 2),
    ["lat_p99_ms"] = Math.Round(p99, 2),
    ["fair_flood_jobs"] = flood,
    ["fair_p99_ms"] = Math.Round(fairP99, 2),
    ["client_cpu_us_per_enqueue"] = Math.Round(enqueueCpuUs, 1),
    ["worker_cpu_us_per_job"] = Math.Round(drainCpuUs, 1),
    ["valkey_cpu_us_per_enqueue"] = Math.Round(enqueueServer.CpuUs, 1),
    ["valkey_script_us_per_enqueue"] = Math.Round(enqueueServer.ScriptUs, 1),
    ["valkey_script_calls_per_1000_enqueues"] = Math.Round(enqueueServer.ScriptCalls * 1000, 1),
    ["valkey_cpu_us_per_job"] = Math.Round(drainServer.CpuUs, 1),
    ["valkey_script_us_per_job"] = Math.Round(drainServer.ScriptUs, 1),
    ["valkey_script_calls_per_1000_jobs"] = Math.Round(drainServer.ScriptCalls * 1000, 1),
    ["valkey_commands_per_job"] = Math.Round(drainServer.Commands, 1),
    ["retention"] = BenchHost.RetentionName,
    ["acl_users"] = acl,
    ["encrypted"] = BenchHost.Encrypt ?? new JobQueueOptions().EncryptPayloads,
}));
await BenchHost.DisposeClientsAsync();

static TimeSpan Cpu() => Process.GetCurrentProcess().TotalProcessorTime;

static int Env(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var v) ? v : fallback;

static async Task EnqueueAllAsync(IJobQueueClient fallback, string queue, TenantId[] tenants, int n, string payload, int chunk = 1000)
{
    await Task.WhenAll(tenants.Select((tenant, index) => Task.Run(async () =>
    {
        var client = await BenchHost.ClientOfAsync(tenant, fallback);
        using var scope = TenantScope.Begin(tenant);
        var share = (n / tenants.Length) + (index < n % tenants.Length ? 1 : 0);
        for (var sent = 0; sent < share; sent += chunk)
        {
            var batch = Enumerable.Range(0, Math.Min(chunk, share - sent)).Select(_ => new JobRequest("noop", payload)).ToList();
            await client.EnqueueBulkAsync(queue, batch);
        }
    })));
}

// Enqueues one job per call at a fixed rate (open loop); each payload starts with its enqueue timestamp.
static async Task OfferAsync(IJobQueueClient fallback, string queue, TenantId[] tenants, int count, int rate, string payload)
{
    var clients = new Dictionary<TenantId, IJobQueueClient>();
    foreach (var tenant in tenants)
    {
        clients[tenant] = await BenchHost.ClientOfAsync(tenant, fallback);
    }
    var body = payload[1..];
    var started = Stopwatch.GetTimestamp();
    var pending = new List<Task>(count);
    for (var i = 0; i < count; i++)
    {
        var due = TimeSpan.FromSeconds((double)i / rate);
        var wait = due - Stopwatch.GetElapsedTime(started);
        if (wait > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(wait);
        }
        var tenant = tenants[i % tenants.Length];
        using var scope = TenantScope.Begin(tenant);
        pending.Add(clients[tenant].EnqueueAsync(queue, "noop", $"[{Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture)},{body}]"));
    }
    await Task.WhenAll(pending);
}

static (double P50, double P99) Percentiles(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return (sorted[(int)(sorted.Length * 0.50)], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]);
}

internal sealed class BenchHost(IHost host) : IAsyncDisposable
{
    /// <summary>QueueOptions.Prefetch of the benchmark's worker: PREFETCH, else the library default.</summary>
    public static int? Prefetch { get; set; }

    /// <summary>How completed jobs are kept: default, all or none (RETENTION).</summary>
    public static string RetentionName { get; set; } = "default";

    /// <summary>JobQueueOptions.EncryptPayloads (ENCRYPT), or the library's default.</summary>
    public static bool? Encrypt { get; set; }

    /// <summary>With ACL=1: the URL of a Valkey user (the workers', or a tenant's web app's).</summary>
    public static Func<string, string>? UserUrl { get; set; }

    private static readonly Dictionary<TenantId, BenchHost> Clients = [];

    public static string WithUser(string url, string user, string password)
    {
        var uri = new Uri(url);
        return $"{uri.Scheme}://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{uri.Host}:{uri.Port}";
    }

    /// <summary>The client a tenant's web app would use: its own Valkey user with ACL=1, else the shared one.</summary>
    public static async Task<IJobQueueClient> ClientOfAsync(TenantId tenant, IJobQueueClient fallback)
    {
        if (UserUrl is null)
        {
            return fallback;
        }
        BenchHost? host;
        lock (Clients)
        {
            Clients.TryGetValue(tenant, out host);
        }
        if (host is null)
        {
            host = await StartAsync(UserUrl(ValkeyAcl.WebUser(tenant)), new BenchTenants([tenant]), null, asIs: true);
            lock (Clients)
            {
                Clients[tenant] = host;
            }
        }
        return host.Client;
    }

    public static async Task DisposeClientsAsync()
    {
        foreach (var host in Clients.Values)
        {
            await host.DisposeAsync();
        }
    }

    private static void Retain(QueueOptions o)
    {
        if (Prefetch is { } ahead)
        {
            o.Prefetch = ahead;
        }
        o.CompletedKeepCount = RetentionName switch
        {
            "default" => o.CompletedKeepCount,
            "all" => -1,
            "none" => 0,
            _ => throw new InvalidOperationException($"RETENTION must be default, all or none, not '{RetentionName}'."),
        };
        if (RetentionName == "all")
        {
            o.CompletedMaxAge = TimeSpan.Zero;
        }
    }

    public IJobQueueClient Client => host.Services.GetRequiredService<IJobQueueClient>();

    public static async Task<BenchHost> StartAsync(string url, ITenantSettingsStore tenants, (string Queue, int Concurrency, Func<IServiceProvider, JobContext, CancellationToken, Task> Handler)? server, bool asIs = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(tenants);
        builder.Services.AddJobQueueClient(o =>
        {
            o.ConnectionString = asIs || UserUrl is null ? url : UserUrl(ValkeyAcl.Workers);
            o.MaxPayloadBytes = 4096;
            if (Encrypt is { } encrypt)
            {
                o.EncryptPayloads = encrypt;
            }
        });
        if (server is { } s)
        {
            builder.Services.AddJobQueueServer().AddQueue(s.Queue, s.Concurrency, Retain).AddHandler("noop", s.Handler);
        }
        var built = builder.Build();
        await built.StartAsync();
        return new BenchHost(built);
    }

    /// <summary>Waits until every job's completion is recorded in Valkey, not just handled.</summary>
    public async Task WaitCompletedAsync(string queue, TenantId[] tenants, int n)
    {
        var admin = host.Services.GetRequiredService<IJobQueueAdmin>();
        while (true)
        {
            // Retention trims completed jobs to 1000 per tenant, so "all recorded" is "none waiting or active".
            long open = 0;
            foreach (var tenant in tenants)
            {
                using var scope = TenantScope.Begin(tenant);
                var c = await admin.GetCountsAsync(queue);
                open += c.Waiting + c.Active;
            }
            if (open == 0)
            {
                return;
            }
            await Task.Delay(5);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}

/// <summary>
/// What one phase cost the Valkey server per job: its CPU, the script calls clients sent (round trips of the engine's
/// hot path), every command executed (those inside scripts included) and the time spent inside scripts.
/// </summary>
internal sealed record ValkeyCost(double CpuUs, double ScriptCalls, double Commands, double ScriptUs);

/// <summary>Reads the server's own accounting (INFO cpu, stats and commandstats) on a separate connection.</summary>
internal sealed class ValkeyMeter(StackExchange.Redis.ConnectionMultiplexer connection) : IAsyncDisposable
{
    public static async Task<ValkeyMeter> ConnectAsync(string url)
    {
        var uri = new Uri(url);
        var options = new StackExchange.Redis.ConfigurationOptions { EndPoints = { { uri.Host, uri.Port } }, AllowAdmin = true };
        if (uri.UserInfo.Split(':') is [_, var password, ..])
        {
            options.Password = Uri.UnescapeDataString(password);
        }
        return new ValkeyMeter(await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(options));
    }

    public async Task<Sample> SampleAsync()
    {
        var info = (string)(await connection.GetDatabase().ExecuteAsync("INFO", "all"))!;
        double cpu = 0, scriptUsec = 0;
        long scriptCalls = 0, commands = 0;
        foreach (var line in info.Split("\r\n"))
        {
            var colon = line.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }
            var (name, value) = (line[..colon], line[(colon + 1)..]);
            if (name is "used_cpu_user" or "used_cpu_sys")
            {
                cpu += double.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (name == "total_commands_processed")
            {
                commands = long.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (name is "cmdstat_evalsha" or "cmdstat_eval" or "cmdstat_fcall")
            {
                // cmdstat_evalsha:calls=12,usec=345,usec_per_call=28.75,...
                var fields = value.Split(',').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
                scriptCalls += long.Parse(fields["calls"], CultureInfo.InvariantCulture);
                scriptUsec += double.Parse(fields["usec"], CultureInfo.InvariantCulture);
            }
        }
        return new Sample(cpu, scriptCalls, commands, scriptUsec);
    }

    public async Task AclSetUserAsync(string user, string password, string rules) =>
        await connection.GetDatabase().ExecuteAsync("ACL", ["SETUSER", user, "reset", "on", ">" + password, .. rules.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

    /// <summary>Keys in the current database and the server's used memory (bytes).</summary>
    public async Task<(long Keys, long Memory)> FootprintAsync()
    {
        var db = connection.GetDatabase();
        var keys = (long)await db.ExecuteAsync("DBSIZE");
        var info = (string)(await db.ExecuteAsync("INFO", "memory"))!;
        var used = info.Split("\r\n").First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return (keys, long.Parse(used["used_memory:".Length..], CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync() => await connection.DisposeAsync();

    internal sealed record Sample(double CpuSeconds, long ScriptCalls, long Commands, double ScriptUsec)
    {
        /// <summary>Per job over <paramref name="jobs"/>; the INFO call that took this sample is not counted.</summary>
        public ValkeyCost Minus(Sample before, int jobs) => new(
            (CpuSeconds - before.CpuSeconds) * 1e6 / jobs,
            (double)(ScriptCalls - before.ScriptCalls) / jobs,
            (double)(Commands - before.Commands - 1) / jobs,
            (ScriptUsec - before.ScriptUsec) / jobs);
    }
}
