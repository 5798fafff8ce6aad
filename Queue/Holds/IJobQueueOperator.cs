using Tenancy;

namespace Queue;

/// <summary>
/// Operator actions across tenants: pausing and resuming a tenant's job processing, reading holds, and counts for
/// many tenants at once. This is not the tenant-scoped <see cref="IJobQueueAdmin"/>: register it
/// (<c>AddJobQueueOperator()</c>) only where operators act, never in a tenant's web app. It does not check that a
/// tenant is configured; that is the caller's check. Thread-safe.
/// </summary>
public interface IJobQueueOperator
{
    /// <summary>
    /// Stops every worker of every queue from fetching the tenant's jobs, within seconds (workers are woken at once and
    /// re-read holds at least every <see cref="JobQueueServerOptions.SafetyPollInterval"/>). Stored in Valkey, so it
    /// survives worker restarts. Waiting jobs stay waiting; running ones finish. Pausing a paused tenant is a no-op
    /// (<see cref="TenantHoldResult.Changed"/> false) that keeps the first reason and time.
    /// </summary>
    Task<TenantHoldResult> PauseTenantAsync(TenantId tenant, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Lifts an operator pause; a no-op when the tenant was not paused. Holds for unreachable dependencies stay until their probe succeeds.</summary>
    Task<TenantHoldResult> ResumeTenantAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>The tenant's hold (<see cref="TenantHold.IsHeld"/> false when nothing holds it). Two reads.</summary>
    Task<TenantHold> GetTenantHoldAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Every held tenant: one read plus one per held tenant.</summary>
    Task<IReadOnlyList<TenantHold>> GetHoldsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts the tenant's failed jobs on <paramref name="queues"/> back to waiting (at the front of its line), at most
    /// <paramref name="limit"/> in all; returns how many. Attempts start again from the job's own maximum.
    /// </summary>
    Task<int> RetryFailedAsync(TenantId tenant, IReadOnlyCollection<string> queues, int limit = 1000, CancellationToken cancellationToken = default);

    /// <summary>
    /// Counts per state and the oldest waiting job for each of <paramref name="tenants"/> on each of
    /// <paramref name="queues"/>: one script call per queue (pipelined), O(1) per tenant, cheap enough to poll every few
    /// seconds for hundreds of tenants.
    /// </summary>
    Task<IReadOnlyList<TenantQueueCounts>> GetTenantCountsAsync(IReadOnlyCollection<string> queues, IReadOnlyCollection<TenantId> tenants, CancellationToken cancellationToken = default);
}
