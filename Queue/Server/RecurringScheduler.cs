using Microsoft.Extensions.Logging;
using Queue.Client;
using Queue.Security;
using Queue.Storage;

namespace Queue.Server;

/// <summary>
/// Turns due recurring definitions of one queue into jobs. Each occurrence is claimed by a compare-and-set on its
/// due time and enqueued under a deterministic id in the same script, so competing servers never run it twice.
/// Missed occurrences (all servers down) are not replayed: one job is enqueued, then the schedule moves past now.
/// </summary>
internal sealed class RecurringScheduler(
    string queue, QueueStorage storage, JobAuthority authority, TimeProvider time, JobQueueServerOptions server, ILogger logger)
{
    private readonly WakeSignal _wake = new();

    public void Wake() => _wake.Set();

    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            _wake.Reset();
            var timeout = server.SafetyPollInterval;
            try
            {
                var now = time.GetUtcNow();
                var due = new List<(string Tenant, string Id, long DueMs, string? Definition)>();
                var next = -1L;
                var found = 0;
                foreach (var shard in storage.Layout.Shards(queue))
                {
                    var (all, first) = await storage.DueRecurringAsync(queue, shard.Index, now.ToUnixTimeMilliseconds());
                    found += all.Count;
                    // A single-tenant server materialises only tenantless schedules: it has no tenant's key to sign with.
                    due.AddRange(authority.OnlySlot is { } only ? all.Where(o => o.Tenant == only) : all);
                    if (first >= 0 && all.Count == 0)
                    {
                        next = next < 0 ? first : Math.Min(next, first);
                    }
                }
                foreach (var occurrence in due)
                {
                    await MaterialiseAsync(occurrence.Tenant, occurrence.Id, occurrence.DueMs, occurrence.Definition, now);
                }
                if (due.Count > 0)
                {
                    continue;
                }
                if (next >= 0 && found == 0)
                {
                    var untilNext = TimeSpan.FromMilliseconds(Math.Max(1, next - now.ToUnixTimeMilliseconds()));
                    timeout = untilNext < timeout ? untilNext : timeout;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                QueueLog.LoopFailed(logger, e, "recurring", queue);
            }
            try
            {
                await _wake.WaitAsync(timeout, time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task MaterialiseAsync(string tenant, string id, long dueMs, string? definitionJson, DateTimeOffset now)
    {
        // Every line about a tenant's recurring job carries its tenant; the occurrence's trace is the job's trace.
        using var logScope = logger.BeginScope(new TenantLogScope(tenant));
        RecurringDefinition definition;
        RecurringSchedule schedule;
        try
        {
            definition = RecurringDefinition.FromJson(definitionJson ?? throw new FormatException("The definition is missing."));
            schedule = RecurringSchedule.Parse(definition.Cron, definition.TimeZone);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or System.Text.Json.JsonException)
        {
            QueueLog.RecurringInvalid(logger, e, queue, id, tenant);
            await storage.RemoveRecurringAsync(queue, tenant, id);
            return;
        }
        var due = DateTimeOffset.FromUnixTimeMilliseconds(dueMs);
        var next = schedule.NextAfter(due > now ? due : now);
        var jobId = $"{id}@{dueMs}";
        using var activity = QueueTelemetry.StartEnqueue(queue, tenant, 1);
        activity?.SetTag("messaging.message.id", jobId);
        string signature;
        try
        {
            signature = authority.Sign(tenant, queue, jobId, definition.JobName, definition.Payload);
        }
        catch (Exception e) when (e is InvalidOperationException or Tenancy.TenantNotFoundException or FormatException)
        {
            // Still enqueued: unsigned, it fails at processing with the reason, visible to the tenant's admin.
            signature = "";
        }
        byte[]? sealedPayload = null;
        if (signature.Length > 0)
        {
            sealedPayload = authority.Seal(tenant, queue, jobId, definition.JobName, definition.Payload);
        }
        var data = new JobData(definition.JobName, sealedPayload is null ? definition.Payload : "", signature,
            System.Diagnostics.Activity.Current?.Id ?? "", 0, now.ToUnixTimeMilliseconds())
        {
            Sealed = sealedPayload,
        };
        var job = new JobRecord(tenant, jobId, data, 0, 0);
        if (await storage.ClaimRecurringAsync(queue, tenant, id, now.ToUnixTimeMilliseconds(), dueMs, next?.ToUnixTimeMilliseconds() ?? -1, job))
        {
            QueueTelemetry.Enqueued.Add(1, QueueTelemetry.Tags(queue, tenant));
            QueueLog.RecurringEnqueued(logger, queue, id, QueueTelemetry.TenantTag(tenant), jobId);
        }
    }
}
