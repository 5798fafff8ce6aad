using Tenancy;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Queue.Admin;
using Queue.Security;
using Queue.Storage;
using StackExchange.Redis;

namespace Queue.Server;

/// <summary>The worker side: processes the registered queues, runs their recurring schedules and reports heartbeats.</summary>
internal sealed class JobQueueServer(
    JobQueueRegistry registry,
    QueueStorage storage,
    JobAuthority authority,
    IServiceScopeFactory scopes,
    IOptionsMonitor<QueueOptions> queueOptions,
    IOptions<JobQueueServerOptions> serverOptions,
    TimeProvider time,
    ITenantSettingsStore tenants,
    TenantCircuits circuits,
    HoldStore holds,
    IEnumerable<IDependencyFailureClassifier> classifiers,
    ILoggerFactory loggers) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger("Queue.Server");
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<QueueProcessor> _processors = [];
    private readonly List<Task> _loops = [];
    private readonly List<RedisChannel> _channels = [];
    private string _workerId = "";

    public string WorkerId => _workerId;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var server = serverOptions.Value;
        _workerId = server.WorkerId ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        await FunctionLibrary.EnsureLoadedAsync(await storage.Connection.MultiplexerAsync());
        foreach (var queue in registry.Queues.Keys)
        {
            // Refuses to start against data laid out otherwise (shards, an earlier layout), saying what to do.
            await storage.ConfigureAsync(queue, server.MaxWaitingPerTenant);
        }
        var subscriber = await storage.Connection.SubscriberAsync();
        // Holds first, so that a paused tenant's jobs are not fetched in the first moments after a restart.
        circuits.Changed += () =>
        {
            foreach (var p in _processors)
            {
                p.Wake();
            }
        };
        await subscriber.SubscribeAsync(holds.Channel, (_, _) => _ = RefreshHoldsAsync());
        _channels.Add(holds.Channel);
        await circuits.RefreshAsync();
        var known = classifiers.ToList();
        foreach (var (queue, handlers) in registry.Queues)
        {
            var logger = loggers.CreateLogger("Queue.Processor");
            var processor = new QueueProcessor(queue, queueOptions.Get(queue), server, storage, handlers, authority, scopes, time, logger, _workerId, circuits, known);
            var recurring = new RecurringScheduler(queue, storage, authority, time, server, logger);
            foreach (var shard in storage.Layout.Shards(queue))
            {
                var index = shard.Index;
                // The message names the tenant whose jobs became waiting (empty: no one in particular).
                await subscriber.SubscribeAsync(shard.Wake, (_, message) =>
                {
                    processor.Wake(index, message.IsNullOrEmpty ? null : (string?)message);
                    recurring.Wake();
                });
                _channels.Add(shard.Wake);
            }
            _processors.Add(processor);
            await HeartbeatAsync(processor);
            processor.Start();
            _loops.Add(Task.Run(() => recurring.RunAsync(_stopping.Token), CancellationToken.None));
        }
        _loops.Add(Task.Run(HeartbeatLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(HoldsLoopAsync, CancellationToken.None));
        QueueLog.Started(_logger, _workerId, string.Join(", ", _processors.Select(p => $"{p.Queue} x{p.Options.Concurrency}")));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_processors.Select(p => p.StopAsync(cancellationToken)));
        await Task.WhenAll(_loops);
        var subscriber = await storage.Connection.SubscriberAsync();
        foreach (var channel in _channels)
        {
            await subscriber.UnsubscribeAsync(channel);
        }
        foreach (var processor in _processors)
        {
            try
            {
                await storage.RemoveWorkerAsync(processor.Queue, _workerId);
                // Another worker takes over reporting at its next heartbeat rather than after the claim lapses.
                foreach (var shard in storage.Layout.Shards(processor.Queue))
                {
                    await storage.ReportAsync(processor.Queue, shard.Index, _workerId, TimeSpan.Zero, false, []);
                }
            }
            catch (RedisException)
            {
                // The report expires by itself.
            }
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        foreach (var processor in _processors)
        {
            processor.Dispose();
        }
    }

    /// <summary>Re-reads holds at the safety-poll pace, in case a change message was lost (Valkey restarted, reconnect).</summary>
    private async Task HoldsLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(serverOptions.Value.SafetyPollInterval, time, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await RefreshHoldsAsync();
        }
    }

    private async Task RefreshHoldsAsync()
    {
        try
        {
            await circuits.RefreshAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            QueueLog.LoopFailed(_logger, e, "holds", "*");
        }
    }

    private async Task HeartbeatLoopAsync()
    {
        var interval = serverOptions.Value.HeartbeatInterval;
        var beats = 0L;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            // Now and then a full recount, so that counts changed behind the engine's back (a restored or edited
            // Valkey) are right again within minutes; in between, only the tenants whose counts changed.
            var full = beats++ % FullReportEvery == 0;
            foreach (var processor in _processors)
            {
                try
                {
                    await HeartbeatAsync(processor);
                    await ReportDepthsAsync(processor.Queue, full);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    QueueLog.LoopFailed(_logger, e, "heartbeat", processor.Queue);
                }
            }
        }
    }

    /// <summary>Heartbeats between two full recounts of the depths (5 minutes at the default interval).</summary>
    private const int FullReportEvery = 30;

    /// <summary>The last counts by state per queue, shard and tenant with jobs, while this worker is that shard's reporter.</summary>
    private readonly Dictionary<(string Queue, int Shard), Dictionary<string, JobCounts>> _depths = [];

    /// <summary>Queues whose first report (with the configured tenants) this worker has made.</summary>
    private readonly HashSet<string> _seeded = new(StringComparer.Ordinal);

    /// <summary>
    /// Depth by state per tenant with jobs, published by one worker per shard (the first to claim its report; another
    /// takes over when its claim lapses or it stops), so the gauges are not counted once per replica and the cost is one
    /// claim and one count per shard and interval for the whole deployment, O(1) per tenant whose counts changed. This
    /// worker's first report also looks at the configured tenants, in case their jobs predate the tenant set.
    /// </summary>
    private async Task ReportDepthsAsync(string queue, bool full)
    {
        var seed = _seeded.Add(queue) ? ConfiguredSlots() : [];
        foreach (var shard in storage.Layout.Shards(queue))
        {
            var key = (queue, shard.Index);
            // Without counts of its own (first report, or another worker reported meanwhile) only a full report will do.
            var known = _depths.TryGetValue(key, out var kept);
            var report = await storage.ReportAsync(queue, shard.Index, _workerId, 3 * serverOptions.Value.HeartbeatInterval, full || !known, seed);
            if (report is null)
            {
                _depths.Remove(key);
                continue;
            }
            var depths = report.Full || kept is null ? new Dictionary<string, JobCounts>(StringComparer.Ordinal) : kept;
            foreach (var (tenant, counts) in report.Tenants)
            {
                if (counts == new JobCounts(0, 0, 0, 0, 0))
                {
                    depths.Remove(tenant);
                }
                else
                {
                    depths[tenant] = counts;
                }
            }
            _depths[key] = depths;
            // The shard's total for autoscaling (IJobQueueBacklog), from the counts this reporter just made: no counting of its own.
            await storage.PublishWaitingAsync(queue, shard.Index, depths.Values.Sum(c => c.Waiting), 3 * serverOptions.Value.HeartbeatInterval);
        }
        var published = _depths.Where(d => d.Key.Queue == queue).SelectMany(d => d.Value).Select(kv => (kv.Key, kv.Value)).ToList();
        QueueTelemetry.SetDepth(queue, [.. published.Where(d => d.Value.Waiting > 0).Select(d => (d.Key, d.Value.Waiting))]);
        QueueTelemetry.SetStateDepths(queue, published);
    }

    private IReadOnlyCollection<string> ConfiguredSlots() => tenants.IsMultiTenant
        ? [.. tenants.Current.Tenants.Keys.Select(t => t.Value)]
        : [QueueLayout.NoTenant];

    private async Task HeartbeatAsync(QueueProcessor processor)
    {
        var now = time.GetUtcNow();
        var expires = now + (3 * serverOptions.Value.HeartbeatInterval);
        var report = new WorkerReport(processor.Options.Concurrency, processor.Options.PerTenantConcurrency, expires.ToUnixTimeMilliseconds(), processor.Options.MaxAttempts);
        await storage.HeartbeatAsync(processor.Queue, _workerId, JsonSerializer.Serialize(report, JsonSerializerOptions.Web));
        // Workers that died without saying goodbye: their reports expired; the live ones drop them.
        var expired = (await storage.WorkersAsync(processor.Queue))
            .Where(w => JsonSerializer.Deserialize<WorkerReport>((string)w.Value!, JsonSerializerOptions.Web) is not { } r || r.ExpiresMs <= now.ToUnixTimeMilliseconds())
            .Select(w => w.Name)
            .ToList();
        if (expired.Count > 0)
        {
            await storage.RemoveWorkersAsync(processor.Queue, expired);
        }
    }
}
