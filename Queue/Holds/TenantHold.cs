namespace Queue;

/// <summary>Why a tenant's jobs are not being fetched.</summary>
public enum TenantHoldKind
{
    /// <summary>An operator paused the tenant (<see cref="IJobQueueOperator.PauseTenantAsync"/>); lifted only by a resume.</summary>
    Paused,

    /// <summary>
    /// The tenant's dependency (its database, SMTP, search index, tracker) stopped answering: the workers' circuit for
    /// that tenant opened. Workers probe with one job at growing intervals and lift the hold when the probe succeeds.
    /// </summary>
    DependencyUnreachable,
}

/// <summary>One reason a tenant is held.</summary>
/// <param name="Kind">Paused by an operator, or held for an unreachable dependency.</param>
/// <param name="Dependency">The dependency (<c>database</c>, <c>smtp</c>, <c>http</c>, ...); null for a pause.</param>
/// <param name="Reason">The operator's reason (may be null), or the error that opened the circuit.</param>
/// <param name="Since">When the hold started.</param>
/// <param name="NextProbeAt">When a worker next tries one job of the tenant (dependency holds only).</param>
public sealed record TenantHoldReason(TenantHoldKind Kind, string? Dependency, string? Reason, DateTimeOffset Since, DateTimeOffset? NextProbeAt = null);

/// <summary>
/// Whether a tenant's jobs are held on every queue: while held, no worker fetches them (they stay waiting, delayed
/// or where they are; nothing fails and no attempt is used), and jobs already running finish.
/// </summary>
public sealed record TenantHold(string Tenant, IReadOnlyList<TenantHoldReason> Reasons)
{
    /// <summary>True when any reason holds the tenant.</summary>
    public bool IsHeld => Reasons.Count > 0;

    /// <summary>True when an operator paused the tenant.</summary>
    public bool IsPaused => Reasons.Any(r => r.Kind == TenantHoldKind.Paused);

    /// <summary>When the earliest reason began; null when not held.</summary>
    public DateTimeOffset? Since => Reasons.Count == 0 ? null : Reasons.Min(r => r.Since);

    /// <summary>A tenant that nothing holds.</summary>
    public static TenantHold None(string tenant) => new(tenant, []);
}

/// <summary>The outcome of a pause or resume.</summary>
/// <param name="Changed">False when it was a no-op: pausing a paused tenant, resuming one that was not paused.</param>
/// <param name="Hold">The tenant's hold after the call.</param>
public sealed record TenantHoldResult(bool Changed, TenantHold Hold);

/// <summary>One tenant's jobs per state on one queue, for operators watching many tenants.</summary>
/// <param name="OldestWaitingSince">When the job at the front of the tenant's line was enqueued; null when none waits.</param>
/// <param name="CompletedTotal">Jobs of the tenant completed on this queue since its keys were created (never trimmed, unlike <see cref="JobCounts.Completed"/>).</param>
/// <param name="FailedTotal">Jobs of the tenant failed for good on this queue, the same way.</param>
public sealed record TenantQueueCounts(string Queue, string Tenant, JobCounts Counts, DateTimeOffset? OldestWaitingSince, long CompletedTotal = 0, long FailedTotal = 0)
{
    /// <summary>The queue's ceiling of a tenant's waiting and delayed jobs as the workers recorded it (null: none recorded yet).</summary>
    public long? Ceiling { get; init; }

    /// <summary>Its waiting and delayed jobs reached the ceiling: its next enqueue on this queue is refused.</summary>
    public bool AtCeiling => Ceiling is { } ceiling && Counts.Waiting + Counts.Delayed >= ceiling;
}
