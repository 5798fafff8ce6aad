using System.Text.Json;
using Queue.Storage;
using Tenancy;

namespace Queue;

/// <summary>
/// Runs jobs of one name. Resolved from a fresh DI scope per job, created inside the job's tenant scope, so scoped
/// tenant-bound services (DbContext, mail settings) are the job's tenant's. Throw to fail the attempt (retried with
/// backoff until its attempts run out), <see cref="PermanentJobFailureException"/> to fail at once, or
/// <see cref="JobRetryAfterException"/> to run again later without using an attempt.
/// </summary>
public interface IJobHandler
{
    Task HandleAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>The job being run. Not thread-safe beyond <see cref="ReportProgressAsync{T}"/>.</summary>
public sealed class JobContext
{
    private readonly FetchedJob _job;
    private readonly QueueStorage _storage;

    internal JobContext(FetchedJob job, TenantId? tenant, QueueStorage storage, CancellationToken cancellationToken)
    {
        _job = job;
        _storage = storage;
        Tenant = tenant;
        CancellationToken = cancellationToken;
    }

    public string Id => _job.Id;

    public string Queue => _job.Queue;

    /// <summary>The job's name (its type), which selected the handler.</summary>
    public string Name => _job.Name;

    /// <summary>The job's authenticated tenant; null only for jobs of a single-tenant deployment.</summary>
    public TenantId? Tenant { get; }

    /// <summary>The payload JSON exactly as enqueued (and signed).</summary>
    public string PayloadJson => _job.Payload;

    /// <summary>1 for the first attempt.</summary>
    public int Attempt => _job.Attempt;

    public DateTimeOffset EnqueuedAt => DateTimeOffset.FromUnixTimeMilliseconds(_job.EnqueuedMs);

    /// <summary>Cancelled when the worker shuts down (the job is handed back) or loses the job's lease.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The payload deserialised with <see cref="JsonSerializerOptions.Web"/>.</summary>
    public T GetPayload<T>() =>
        JsonSerializer.Deserialize<T>(_job.Payload, JsonSerializerOptions.Web)
        ?? throw new PermanentJobFailureException($"Job {Id} has a null payload where {typeof(T).Name} was expected.");

    /// <summary>Stores <paramref name="progress"/> (as JSON) on the job, visible to the admin API; false if the lease was lost.</summary>
    public Task<bool> ReportProgressAsync<T>(T progress) =>
        _storage.ReportProgressAsync(_job, JsonSerializer.Serialize(progress, JsonSerializerOptions.Web));
}

/// <summary>Fails the job at once, without further attempts (for example a mailbox that does not exist, SMTP 550).</summary>
public sealed class PermanentJobFailureException : Exception
{
    public PermanentJobFailureException()
    {
    }

    public PermanentJobFailureException(string message) : base(message)
    {
    }

    public PermanentJobFailureException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// Puts the job back to run after <see cref="Delay"/> without using an attempt (for example HTTP 429 with Retry-After).
/// </summary>
public sealed class JobRetryAfterException : Exception
{
    public JobRetryAfterException() : this(TimeSpan.Zero)
    {
    }

    public JobRetryAfterException(string message) : base(message)
    {
    }

    public JobRetryAfterException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public JobRetryAfterException(TimeSpan delay, string? message = null, Exception? innerException = null)
        : base(message ?? $"Retry requested after {delay}.", innerException) => Delay = delay;

    public TimeSpan Delay { get; }
}
