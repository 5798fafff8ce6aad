using System.Diagnostics;
using System.Text.Json;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using OpenTelemetry;
using Queue;
using Tenancy;

namespace Web.Services;

/// <summary>
/// Jobs that accompany a database write (rule 8): added to the request's <see cref="TenantDbContext"/>, so they are
/// committed by the same <c>SaveChanges</c> as the data, and relayed to the queue afterwards by <see cref="OutboxRelay"/>.
/// A request that saved data therefore succeeds while Valkey is down; its jobs appear when Valkey is back.
/// </summary>
internal sealed class JobOutbox(TenantDbContext db, OutboxRelay relay, TimeProvider time)
{
    /// <summary>Adds one job to the pending changes and returns its id, fixed now so a repeated relay cannot add it twice.</summary>
    public string Add<TPayload>(JobContract<TPayload> job, TPayload payload)
    {
        var id = Guid.CreateVersion7().ToString("N");
        db.OutboxJobs.Add(new OutboxJob
        {
            Queue = job.Queue,
            JobName = job.Name,
            JobId = id,
            Payload = JsonSerializer.Serialize(payload, JsonSerializerOptions.Web),
            CreatedAt = time.GetUtcNow(),
            TraceParent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } writer ? writer.Id : null,
        });
        return id;
    }

    /// <summary>
    /// Call after the commit: relays now, so the jobs are usually queued before the response; when Valkey does not
    /// answer within <see cref="OutboxRelay.InlineWait"/> the request goes on and the background relay delivers them.
    /// </summary>
    public Task CommittedAsync() => relay.RelayNowAsync();
}

/// <summary>Wakes the relay when a request committed outbox rows; a wake-up that comes while it relays is kept.</summary>
internal sealed class OutboxSignal
{
    private TaskCompletionSource _current = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Volatile.Read(ref _current).TrySetResult();

    /// <summary>Waits until set or <paramref name="timeout"/>, then re-arms.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        try
        {
            await current.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // The poll: rows committed by another replica, or a wake-up lost to a crash.
        }
        Interlocked.CompareExchange(ref _current, new(TaskCreationOptions.RunContinuationsAsynchronously), current);
    }
}

/// <summary>
/// Relays the tenant's outbox to the queue: oldest rows first, in batches, each job with the id fixed at write time,
/// then deletes exactly the rows it enqueued. At least once: a crash between enqueue and delete relays the batch again, which the
/// queue's per-tenant id deduplication turns into no-ops. One replica relays at a time (a transaction-scoped advisory
/// lock), so jobs reach the queue in the order of their ids among the rows committed (a row that commits late goes in the next batch). While Valkey is down it waits and tries again.
/// </summary>
internal sealed partial class OutboxRelay(IServiceScopeFactory scopes, OutboxSignal signal, ITenantSettingsStore tenants, ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 500;

    /// <summary>An arbitrary constant naming the relay's advisory lock in the tenant database.</summary>
    private const long LockKey = 0x6A6F625F6F7574;

    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(5);

    /// <summary>The app's own source (ServiceDefaults traces the source named after the application): one span per background relay.</summary>
    private static readonly ActivitySource Source = new(typeof(OutboxRelay).Assembly.GetName().Name!);

    /// <summary>How long a request waits for the relay it starts after its commit.</summary>
    public static readonly TimeSpan InlineWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            int relayed;
            try
            {
                relayed = await RelayPendingAsync(stoppingToken);
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Queue.Storage.JobQueueFullException full)
            {
                // The tenant is at its ceiling on a queue: the rows stay, in order, until there is room (no stack: not a fault).
                Log.AtCeiling(logger, full.Queue, full.Held, full.Ceiling, backoff.TotalSeconds);
                await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                continue;
            }
            catch (Exception e)
            {
                // Valkey or the database is away: the rows stay and are relayed once both answer.
                Log.RelayFailed(logger, e, backoff.TotalSeconds);
                await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                continue;
            }
            if (relayed < BatchSize)
            {
                try
                {
                    await signal.WaitAsync(Poll, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Relays what is committed now, waiting at most <see cref="InlineWait"/>; never throws.</summary>
    public async Task RelayNowAsync()
    {
        var relay = RelayBatchAsync(CancellationToken.None);
        try
        {
            if (await relay.WaitAsync(InlineWait) >= BatchSize)
            {
                signal.Set();
            }
        }
        catch (Exception e)
        {
            // Valkey away or slow: the background relay takes over (the rows are committed).
            _ = relay.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            Log.InlineRelayFailed(logger, e.GetType().Name);
            signal.Set();
        }
    }

    /// <summary>
    /// The background relay's round: an untraced look for rows first, since it finds none almost every time and a trace
    /// every 5 s per replica would bury the ones that matter in the dashboard; rows found are relayed under one span.
    /// </summary>
    private async Task<int> RelayPendingAsync(CancellationToken cancellationToken)
    {
        using (tenants.InstanceTenant is { } id ? TenantScope.Begin(id) : null)
        using (SuppressInstrumentationScope.Begin())
        await using (var scope = scopes.CreateAsyncScope())
        {
            if (!await scope.ServiceProvider.GetRequiredService<TenantDbContext>().OutboxJobs.AnyAsync(cancellationToken))
            {
                return 0;
            }
        }
        using var activity = Source.StartActivity("outbox relay");
        var relayed = await RelayBatchAsync(cancellationToken);
        activity?.SetTag("outbox.relayed", relayed);
        return relayed;
    }

    /// <summary>Relays one batch; returns how many rows it relayed (0 when another replica holds the lock).</summary>
    internal async Task<int> RelayBatchAsync(CancellationToken cancellationToken)
    {
        // The jobs are this instance's tenant's, as the requests that wrote them were (the client stamps and signs it).
        using var tenant = tenants.InstanceTenant is { } id ? TenantScope.Begin(id) : null;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TenantDbContext>();
        var queue = scope.ServiceProvider.GetRequiredService<IJobQueueClient>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var locked = await db.Database.SqlQuery<bool>($"SELECT pg_try_advisory_xact_lock({LockKey}) AS \"Value\"").SingleAsync(cancellationToken);
        if (!locked)
        {
            return 0;
        }
        var rows = await db.OutboxJobs.AsNoTracking().OrderBy(j => j.Id).Take(BatchSize).ToListAsync(cancellationToken);
        if (rows.Count == 0)
        {
            return 0;
        }
        // Consecutive rows of one queue go in one bulk call; the order of rows is kept across queues too.
        var start = 0;
        while (start < rows.Count)
        {
            var end = start;
            while (end < rows.Count && rows[end].Queue == rows[start].Queue)
            {
                end++;
            }
            await queue.EnqueueBulkAsync(rows[start].Queue,
                [.. rows.Skip(start).Take(end - start).Select(r => new JobRequest(r.JobName, r.Payload, new EnqueueOptions { JobId = r.JobId, TraceParent = WriterParent(r) }))],
                cancellationToken);
            start = end;
        }
        // Exactly the rows relayed, never a range: ids are drawn at insert and committed in any order, so a row
        // with a lower id can commit while this batch is being enqueued; "id <= last" would delete it unrelayed.
        var relayed = rows.Select(r => r.Id).ToList();
        await db.OutboxJobs.Where(j => relayed.Contains(j.Id)).ExecuteDeleteAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }

    /// <summary>
    /// The span a relayed job continues. A row relayed by the request that wrote it (the inline relay, same trace) is
    /// left to the enqueue's producer span, a child of that request; a row relayed by the background relay or by another
    /// request's relay continues the span that wrote it, not whatever trace happens to relay it.
    /// </summary>
    private static string? WriterParent(OutboxJob row) =>
        row.TraceParent is { } parent && ActivityContext.TryParse(parent, null, out var writer) && writer.TraceId != Activity.Current?.TraceId
            ? parent
            : null;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Relaying the job outbox failed; its jobs stay in the database and are relayed again in {Seconds} s")]
        public static partial void RelayFailed(ILogger logger, Exception exception, double seconds);

        [LoggerMessage(2, LogLevel.Information, "Relaying a request's jobs did not finish in time ({Reason}); the background relay delivers them")]
        public static partial void InlineRelayFailed(ILogger logger, string reason);

        [LoggerMessage(3, LogLevel.Warning, "The job outbox waits: {Held} jobs are waiting or delayed on queue {Queue}, this tenant's ceiling of {Ceiling}; trying again in {Seconds} s")]
        public static partial void AtCeiling(ILogger logger, string queue, long held, long ceiling, double seconds);
    }
}
