using Queue.Client;
using Queue.Storage;
using Tenancy;

namespace Queue.Holds;

internal sealed class JobQueueOperator(HoldStore holds, QueueStorage storage, TimeProvider time) : IJobQueueOperator
{
    public async Task<TenantHoldResult> PauseTenantAsync(TenantId tenant, string? reason = null, CancellationToken cancellationToken = default)
    {
        var changed = await holds.PauseAsync(Slot(tenant), string.IsNullOrWhiteSpace(reason) ? null : reason.Trim(), Now());
        return new TenantHoldResult(changed, await GetTenantHoldAsync(tenant, cancellationToken));
    }

    public async Task<TenantHoldResult> ResumeTenantAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        var changed = await holds.ResumeAsync(Slot(tenant), Now());
        return new TenantHoldResult(changed, await GetTenantHoldAsync(tenant, cancellationToken));
    }

    public async Task<TenantHold> GetTenantHoldAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        HoldStore.ToHold(Slot(tenant), await holds.GetAsync(Slot(tenant)));

    public async Task<IReadOnlyList<TenantHold>> GetHoldsAsync(CancellationToken cancellationToken = default) =>
        [.. (await holds.AllAsync()).Select(h => HoldStore.ToHold(h.Tenant, h)).OrderBy(h => h.Tenant, StringComparer.Ordinal)];

    public async Task<IReadOnlyList<TenantQueueCounts>> GetTenantCountsAsync(
        IReadOnlyCollection<string> queues, IReadOnlyCollection<TenantId> tenants, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentNullException.ThrowIfNull(tenants);
        foreach (var queue in queues)
        {
            JobNames.ValidateQueue(queue);
        }
        var slots = tenants.Select(Slot).ToList();
        // One call per queue and shard, all sent before any is awaited (pipelined on the multiplexer).
        var calls = queues.Select(q => (Counts: storage.TenantCountsAsync(q, slots), Ceiling: storage.CeilingAsync(q))).ToList();
        var all = new List<TenantQueueCounts>(queues.Count * slots.Count);
        foreach (var (counts, ceiling) in calls)
        {
            var limit = await ceiling;
            all.AddRange((await counts).Select(c => c with { Ceiling = limit }));
        }
        return all;
    }

    public async Task<int> RetryFailedAsync(TenantId tenant, IReadOnlyCollection<string> queues, int limit = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var slot = Slot(tenant);
        var retried = 0;
        foreach (var queue in queues)
        {
            JobNames.ValidateQueue(queue);
            while (retried < limit && !cancellationToken.IsCancellationRequested)
            {
                // Each retry leaves the failed list, so the next page starts at the front again.
                var page = await storage.PageAsync(queue, slot, JobState.Failed, 0, Math.Min(100, limit - retried));
                if (page.Count == 0)
                {
                    break;
                }
                var moved = 0;
                foreach (var job in page)
                {
                    if (await storage.AdminAsync(queue, "retry", slot, job.Id))
                    {
                        moved++;
                    }
                }
                retried += moved;
                if (moved == 0)
                {
                    break;
                }
            }
        }
        return retried;
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Slot(TenantId tenant) =>
        tenant.Value ?? throw new ArgumentException("A tenant id is required.", nameof(tenant));
}
