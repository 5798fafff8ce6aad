namespace Queue;

/// <summary>Where a job is in its life.</summary>
public enum JobState
{
    Waiting,
    Active,
    Delayed,
    Completed,
    Failed,
}

/// <summary>How to enqueue one job. Every property is optional.</summary>
public sealed record EnqueueOptions
{
    /// <summary>
    /// The job's id; generated when null. Unique per queue and tenant: enqueueing an id that still exists (any state,
    /// until retention removes it) adds nothing and reports a duplicate.
    /// </summary>
    public string? JobId { get; init; }

    /// <summary>0 (default) to 1000; higher runs first among the tenant's waiting jobs.</summary>
    public int Priority { get; init; }

    /// <summary>Run no earlier than this from now.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Attempts before the job fails for good; the queue's default when null.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>
    /// The W3C <c>traceparent</c> whose span the job's consumer span continues. When null (usual), it is the enqueue's
    /// own producer span, in the caller's trace. Set it when the job is enqueued on behalf of earlier work that had its
    /// own trace, as the web app's outbox relay does for jobs that a request wrote and the background relay delivers.
    /// </summary>
    public string? TraceParent { get; init; }
}

/// <summary>One job of a bulk enqueue.</summary>
public sealed record JobRequest(string Name, string PayloadJson, EnqueueOptions? Options = null);

/// <summary>The outcome of enqueueing one job.</summary>
/// <param name="Id">The job's id.</param>
/// <param name="Added">False when a job with this id already existed for the tenant (nothing was added).</param>
public sealed record EnqueueResult(string Id, bool Added);

/// <summary>How many of a tenant's jobs are in each state on one queue.</summary>
public sealed record JobCounts(long Waiting, long Active, long Delayed, long Completed, long Failed);

/// <summary>Everything stored about one job.</summary>
public sealed record JobDetails(
    string Id,
    string Queue,
    string? Tenant,
    string Name,
    JobState State,
    string Payload,
    int Priority,
    int Attempts,
    int MaxAttempts,
    int Stalls,
    DateTimeOffset EnqueuedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? DueAt,
    string? Progress,
    string? Error,
    string? StackTrace,
    string? TraceParent)
{
    /// <summary>The stored data, for the engine to open a sealed payload with the tenant's key.</summary>
    internal Storage.JobData? Stored { get; init; }
}

/// <summary>What one running worker reported for a queue.</summary>
public sealed record WorkerConcurrency(string WorkerId, int Concurrency, int PerTenantConcurrency, DateTimeOffset ExpiresAt);

/// <summary>The concurrency a queue really has now: the sum over workers whose heartbeat has not expired.</summary>
public sealed record EffectiveConcurrency(string Queue, int TotalConcurrency, IReadOnlyList<WorkerConcurrency> Workers);

/// <summary>A tenant's recurring job definition and its next occurrence.</summary>
public sealed record RecurringJob(
    string Id,
    string Queue,
    string Cron,
    string? TimeZone,
    string JobName,
    string PayloadJson,
    DateTimeOffset? NextOccurrence);
