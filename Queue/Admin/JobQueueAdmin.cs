using System.Text.Json;
using Queue.Security;
using Queue.Storage;

namespace Queue.Admin;

/// <summary>A worker's heartbeat record in the queue's <c>workers</c> hash.</summary>
/// <param name="MaxAttempts">The queue's configured attempts for jobs that set none (0 from workers older than this field).</param>
internal sealed record WorkerReport(int Concurrency, int PerTenantConcurrency, long ExpiresMs, int MaxAttempts = 0);

internal sealed class JobQueueAdmin(QueueStorage storage, HoldStore holds, JobAuthority authority, TimeProvider time) : IJobQueueAdmin
{
    public async Task<TenantHold> GetHoldAsync(CancellationToken cancellationToken = default)
    {
        var slot = authority.CurrentSlot("read the tenant's hold");
        return slot == QueueLayout.NoTenant ? TenantHold.None(slot) : HoldStore.ToHold(slot, await holds.GetAsync(slot));
    }

    public Task<JobCounts> GetCountsAsync(string queue, CancellationToken cancellationToken = default) =>
        storage.CountsAsync(Checked(queue), Slot(queue));

    public Task<IReadOnlyList<JobDetails>> GetJobsAsync(string queue, JobState state, int offset = 0, int count = 50, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 1000);
        return WithMaxAttemptsAsync(queue, storage.PageAsync(Checked(queue), Slot(queue), state, offset, count));
    }

    public async Task<JobDetails?> GetJobAsync(string queue, string jobId, CancellationToken cancellationToken = default) =>
        await storage.GetAsync(Checked(queue), Slot(queue), jobId) is { } job ? (await WithMaxAttemptsAsync(queue, Task.FromResult<IReadOnlyList<JobDetails>>([job])))[0] : null;

    /// <summary>
    /// A job that sets no attempts of its own gets the queue's: as the running workers report it, else the default.
    /// </summary>
    private async Task<IReadOnlyList<JobDetails>> WithMaxAttemptsAsync(string queue, Task<IReadOnlyList<JobDetails>> read)
    {
        var jobs = (await read).Select(Revealed).ToList();
        if (jobs.All(j => j.MaxAttempts > 0))
        {
            return jobs;
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var configured = (await storage.WorkersAsync(queue))
            .Select(w => JsonSerializer.Deserialize<WorkerReport>((string)w.Value!, JsonSerializerOptions.Web))
            .Where(r => r is not null && r.ExpiresMs > now && r.MaxAttempts > 0)
            .Select(r => r!.MaxAttempts)
            .DefaultIfEmpty(JobQueueDefaults.MaxAttempts)
            .Max();
        return [.. jobs.Select(j => j.MaxAttempts > 0 ? j : j with { MaxAttempts = configured })];
    }

    /// <summary>A sealed payload opened with the tenant's key, as the tenant's admin may see it.</summary>
    private JobDetails Revealed(JobDetails job) =>
        job.Stored is { Sealed: not null } data
            ? job with { Payload = authority.Reveal(job.Tenant ?? QueueLayout.NoTenant, job.Queue, job.Id, job.Name, data) ?? "(sealed: does not open with this tenant's key)" }
            : job;

    public Task<bool> RetryAsync(string queue, string jobId, CancellationToken cancellationToken = default) => Act(queue, "retry", jobId);

    public Task<bool> PromoteAsync(string queue, string jobId, CancellationToken cancellationToken = default) => Act(queue, "promote", jobId);

    public Task<bool> RemoveAsync(string queue, string jobId, CancellationToken cancellationToken = default) => Act(queue, "remove", jobId);

    public Task<int> CleanAsync(string queue, JobState state, TimeSpan olderThan, int limit = 1000, CancellationToken cancellationToken = default)
    {
        if (state is not (JobState.Completed or JobState.Failed))
        {
            throw new ArgumentException("Only completed or failed jobs can be cleaned.", nameof(state));
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var cutoff = (time.GetUtcNow() - olderThan).ToUnixTimeMilliseconds();
        return storage.CleanAsync(Checked(queue), Slot(queue), state, cutoff, limit);
    }

    public Task<long?> GetCeilingAsync(string queue, CancellationToken cancellationToken = default) => storage.CeilingAsync(Checked(queue));

    public async Task<EffectiveConcurrency> GetConcurrencyAsync(string queue, CancellationToken cancellationToken = default)
    {
        Checked(queue);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var workers = new List<WorkerConcurrency>();
        foreach (var entry in await storage.WorkersAsync(queue))
        {
            // Workers that died without saying goodbye: their reports expire (and the live workers drop them).
            var report = JsonSerializer.Deserialize<WorkerReport>((string)entry.Value!, JsonSerializerOptions.Web);
            if (report is not null && report.ExpiresMs > now)
            {
                workers.Add(new WorkerConcurrency(entry.Name!, report.Concurrency, report.PerTenantConcurrency, DateTimeOffset.FromUnixTimeMilliseconds(report.ExpiresMs)));
            }
        }
        workers.Sort((a, b) => string.CompareOrdinal(a.WorkerId, b.WorkerId));
        return new EffectiveConcurrency(queue, workers.Sum(w => w.Concurrency), workers);
    }

    private async Task<bool> Act(string queue, string action, string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return await storage.AdminAsync(Checked(queue), action, Slot(queue), jobId);
    }

    private string Slot(string queue) => authority.CurrentSlot($"administer queue '{queue}'");

    private static string Checked(string queue)
    {
        JobNames.ValidateQueue(queue);
        return queue;
    }
}
