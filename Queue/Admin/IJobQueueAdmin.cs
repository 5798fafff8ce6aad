namespace Queue;

/// <summary>
/// Inspects and acts on the current tenant's jobs only: every call reads and writes the ambient tenant's keys
/// (to act for another tenant, run inside <c>TenantScope.Begin(tenant)</c>). Another tenant's job id is simply not
/// found. In multi-tenant mode a call without an ambient tenant throws <see cref="InvalidOperationException"/>.
/// </summary>
public interface IJobQueueAdmin
{
    /// <summary>The tenant's jobs per state; O(1) per state.</summary>
    Task<JobCounts> GetCountsAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>A page of the tenant's jobs in <paramref name="state"/>: finished ones newest first, others in run order.</summary>
    Task<IReadOnlyList<JobDetails>> GetJobsAsync(string queue, JobState state, int offset = 0, int count = 50, CancellationToken cancellationToken = default);

    /// <summary>One of the tenant's jobs, or null.</summary>
    Task<JobDetails?> GetJobAsync(string queue, string jobId, CancellationToken cancellationToken = default);

    /// <summary>Moves a failed job back to waiting with fresh attempts; false when the tenant has no failed job by that id.</summary>
    Task<bool> RetryAsync(string queue, string jobId, CancellationToken cancellationToken = default);

    /// <summary>Runs a delayed job now; false when the tenant has no delayed job by that id.</summary>
    Task<bool> PromoteAsync(string queue, string jobId, CancellationToken cancellationToken = default);

    /// <summary>Deletes a job in any state (an active one's late outcome is then ignored); false when not found.</summary>
    Task<bool> RemoveAsync(string queue, string jobId, CancellationToken cancellationToken = default);

    /// <summary>Deletes up to <paramref name="limit"/> of the tenant's completed or failed jobs finished longer than <paramref name="olderThan"/> ago.</summary>
    Task<int> CleanAsync(string queue, JobState state, TimeSpan olderThan, int limit = 1000, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether the tenant's jobs are held on every queue (paused by an operator, or held because one of its dependencies
    /// is unreachable), with each reason and since when. A single-tenant deployment is never held.
    /// </summary>
    Task<TenantHold> GetHoldAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The ceiling of the tenant's waiting and delayed jobs on <paramref name="queue"/> (every tenant has the same), as
    /// the workers recorded it; null before any worker has. An enqueue beyond it is refused with <see cref="Storage.JobQueueFullException"/>.
    /// </summary>
    Task<long?> GetCeilingAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>The concurrency the running workers of <paramref name="queue"/> report (not configured values); shared by all tenants.</summary>
    Task<EffectiveConcurrency> GetConcurrencyAsync(string queue, CancellationToken cancellationToken = default);
}
