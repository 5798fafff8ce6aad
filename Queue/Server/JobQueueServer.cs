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
            var channel = storage.Keys(queue).Wake;
            await subscriber.SubscribeAsync(channel, (_, _) =>
            {
                processor.Wake();
                recurring.Wake();
            });
            _channels.Add(channel);
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
            foreach (var processor in _processors)
            {
                try
                {
                    await HeartbeatAsync(processor);
                    var waiting = await storage.DepthAsync(processor.Queue);
                    QueueTelemetry.SetDepth(processor.Queue, waiting);
                    QueueTelemetry.SetStateDepths(processor.Queue, await StateDepthsAsync(processor.Queue, waiting));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    QueueLog.LoopFailed(_logger, e, "heartbeat", processor.Queue);
                }
            }
        }
    }

    /// <summary>
    /// Counts per state for every configured tenant and every tenant with waiting jobs (one small batch each): the
    /// depth by state that operators watch per tenant.
    /// </summary>
    private async Task<IReadOnlyList<(string Tenant, JobCounts Counts)>> StateDepthsAsync(string queue, IReadOnlyList<(string Tenant, long Waiting)> waiting)
    {
        var slots = tenants.IsMultiTenant
            ? tenants.Current.Tenants.Keys.Select(t => t.Value).Concat(waiting.Select(w => w.Tenant)).Distinct(StringComparer.Ordinal).ToList()
            : [QueueKeys.NoTenant];
        var counts = await Task.WhenAll(slots.Select(slot => storage.CountsAsync(queue, slot)));
        return [.. slots.Zip(counts)];
    }

    private Task HeartbeatAsync(QueueProcessor processor)
    {
        var expires = time.GetUtcNow() + (3 * serverOptions.Value.HeartbeatInterval);
        var report = new WorkerReport(processor.Options.Concurrency, processor.Options.PerTenantConcurrency, expires.ToUnixTimeMilliseconds(), processor.Options.MaxAttempts);
        return storage.HeartbeatAsync(processor.Queue, _workerId, JsonSerializer.Serialize(report, JsonSerializerOptions.Web));
    }
}
