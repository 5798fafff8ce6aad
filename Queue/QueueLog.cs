using Microsoft.Extensions.Logging;

namespace Queue;

internal static partial class QueueLog
{
    [LoggerMessage(1, LogLevel.Information, "Processing {Queue} job {JobId} of type {JobName} for tenant {Tenant}")]
    public static partial void Processing(ILogger logger, string queue, string jobId, string jobName, string tenant);

    [LoggerMessage(2, LogLevel.Warning, "Job {JobId} on {Queue} failed attempt {Attempt}; retrying at {Due}")]
    public static partial void Retrying(ILogger logger, Exception exception, string queue, string jobId, int attempt, DateTimeOffset due);

    [LoggerMessage(3, LogLevel.Error, "Job {JobId} on {Queue} failed for good after attempt {Attempt}")]
    public static partial void FailedFinal(ILogger logger, Exception exception, string queue, string jobId, int attempt);

    [LoggerMessage(4, LogLevel.Error, "Job {JobId} on {Queue} was rejected before running: {Reason}")]
    public static partial void Rejected(ILogger logger, string queue, string jobId, string reason);

    [LoggerMessage(5, LogLevel.Information, "Job {JobId} on {Queue} asked to be retried at {Due} without using an attempt")]
    public static partial void Deferred(ILogger logger, string queue, string jobId, DateTimeOffset due);

    [LoggerMessage(6, LogLevel.Error, "Fetching from queue {Queue} failed; retrying")]
    public static partial void FetchFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(7, LogLevel.Error, "Recording the outcome of {Count} jobs on {Queue} failed; their leases will expire and they will run again")]
    public static partial void FinishFailed(ILogger logger, Exception exception, string queue, int count);

    [LoggerMessage(8, LogLevel.Warning, "Lost the lease of job {JobId} on {Queue}; cancelling it (another worker may run it)")]
    public static partial void LeaseLost(ILogger logger, string queue, string jobId);

    [LoggerMessage(9, LogLevel.Information, "Handed back {Count} unfinished jobs of {Queue} at shutdown")]
    public static partial void HandedBack(ILogger logger, string queue, int count);

    [LoggerMessage(10, LogLevel.Information, "Job queue server {WorkerId} started: {Queues}")]
    public static partial void Started(ILogger logger, string workerId, string queues);

    [LoggerMessage(11, LogLevel.Error, "Background loop {Loop} of queue {Queue} failed; continuing")]
    public static partial void LoopFailed(ILogger logger, Exception exception, string loop, string queue);

    [LoggerMessage(12, LogLevel.Information, "Recurring job {RecurringId} of tenant {Tenant} on {Queue} enqueued occurrence {JobId}")]
    public static partial void RecurringEnqueued(ILogger logger, string queue, string recurringId, string tenant, string jobId);

    [LoggerMessage(13, LogLevel.Error, "Recurring job {RecurringId} of tenant {Tenant} on {Queue} is invalid and was removed")]
    public static partial void RecurringInvalid(ILogger logger, Exception exception, string queue, string recurringId, string tenant);

    [LoggerMessage(14, LogLevel.Warning, "Holding the jobs of tenant {Tenant}: its {Dependency} is unreachable ({Failures} failures in a row): {Cause}")]
    public static partial void TenantHeld(ILogger logger, string tenant, string dependency, int failures, string cause);

    [LoggerMessage(15, LogLevel.Information, "Released the jobs of tenant {Tenant}: its {Dependency} answers again")]
    public static partial void TenantReleased(ILogger logger, string tenant, string dependency);

    [LoggerMessage(16, LogLevel.Information, "Job {JobId} on {Queue} could not reach the {Dependency} of tenant {Tenant}; runs again at {Due} without using an attempt: {Cause}")]
    public static partial void DependencyDelayed(ILogger logger, string queue, string jobId, string dependency, string tenant, DateTimeOffset due, string cause);

    [LoggerMessage(17, LogLevel.Warning, "Only {Acknowledged} of {Wanted} replicas acknowledged the {What} of queue {Queue} in time; a failover now could run those jobs twice")]
    public static partial void NotReplicated(ILogger logger, string queue, string what, long acknowledged, int wanted);
}
