using Domain.Jobs;
using Queue;

namespace Web.Services;

/// <summary>One queue's line on Admin &gt; Job Queues.</summary>
public sealed record QueueSummary(string Queue, JobCounts Counts, int EffectiveConcurrency, int Workers);

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
            summaries.Add(new QueueSummary(queue, counts, concurrency.TotalConcurrency, concurrency.Workers.Count));
        }
        return summaries;
    }

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
