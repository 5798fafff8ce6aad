using Domain.Jobs;
using Queue;
using Web.Infrastructure;

namespace Web.Services;

/// <summary>One queue's line on Admin &gt; Job Queues.</summary>
public sealed record QueueSummary(string Queue, JobCounts Counts, int EffectiveConcurrency, int Workers, long? Ceiling = null)
{
    /// <summary>The tenant's waiting and delayed jobs reached the queue's ceiling: its next enqueue there is refused.</summary>
    public bool AtCeiling => Ceiling is { } ceiling && Counts.Waiting + Counts.Delayed >= ceiling;
}

/// <summary>A running job that reports progress (imports and reindexes).</summary>
public sealed record RunningJobProgress(string Queue, string Id, string Name, string? Progress, DateTimeOffset? StartedAt);

/// <summary>
/// Admin &gt; Job Queues for this tenant. Everything goes through the queue's tenant-scoped admin API, so it can only
/// ever see and act on the current tenant's jobs. Queue-wide operations (pause, drain, obliterate) are not offered;
/// whether an operator paused this tenant, or its jobs are held for an unreachable dependency, is shown (read only).
/// </summary>
internal sealed class JobQueueDashboard(IJobQueueAdmin admin)
{
    public static readonly IReadOnlyList<string> ProgressQueues = [QueueNames.TestmoImports, QueueNames.ElasticsearchReindex];

    public static bool IsKnownQueue(string queue) => QueueNames.All.Contains(queue);

    public async Task<IReadOnlyList<QueueSummary>> SummariesAsync(CancellationToken cancellationToken)
    {
        var summaries = new List<QueueSummary>();
        foreach (var queue in QueueNames.All)
        {
            var counts = await admin.GetCountsAsync(queue, cancellationToken);
            var concurrency = await admin.GetConcurrencyAsync(queue, cancellationToken);
            var ceiling = await admin.GetCeilingAsync(queue, cancellationToken);
            summaries.Add(new QueueSummary(queue, counts, concurrency.TotalConcurrency, concurrency.Workers.Count, ceiling));
        }
        return summaries;
    }

    /// <summary>
    /// A page of the tenant's jobs in <paramref name="state"/> on <paramref name="queue"/>; the total is the tenant's
    /// count of jobs in that state (read just before the page, so the two can differ by what happened in between).
    /// </summary>
    public async Task<Paged<JobDetails>> JobsAsync(string queue, JobState state, PageRequest request, CancellationToken cancellationToken)
    {
        var total = CountOf(await admin.GetCountsAsync(queue, cancellationToken), state);
        if (request.ClampToLastPage && total > 0 && ((long)request.Page - 1) * request.PageSize >= total)
        {
            request = request with { Page = (int)((total + request.PageSize - 1) / request.PageSize) };
        }
        var jobs = await admin.GetJobsAsync(queue, state, request.Offset, request.PageSize, cancellationToken);
        return new Paged<JobDetails>(jobs, request.Page, request.PageSize, total);
    }

    public static long CountOf(JobCounts counts, JobState state) => state switch
    {
        JobState.Waiting => counts.Waiting,
        JobState.Active => counts.Active,
        JobState.Delayed => counts.Delayed,
        JobState.Completed => counts.Completed,
        _ => counts.Failed,
    };

    /// <summary>Whether this tenant's jobs are held on every queue, why and since when.</summary>
    public Task<TenantHold> HoldAsync(CancellationToken cancellationToken) => admin.GetHoldAsync(cancellationToken);

    public async Task<IReadOnlyList<RunningJobProgress>> RunningProgressAsync(CancellationToken cancellationToken)
    {
        var running = new List<RunningJobProgress>();
        foreach (var queue in ProgressQueues)
        {
            foreach (var job in await admin.GetJobsAsync(queue, JobState.Active, 0, 50, cancellationToken))
            {
                running.Add(new RunningJobProgress(queue, job.Id, job.Name, job.Progress, job.StartedAt));
            }
        }
        return running;
    }
}
