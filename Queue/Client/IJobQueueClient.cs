using System.Text.Json;

namespace Queue;

/// <summary>
/// Adds jobs to queues. The job's tenant is the ambient one (<c>Tenancy.ICurrentTenant</c>), never an argument, and the
/// job is signed with that tenant's key. In multi-tenant mode, enqueueing without an ambient tenant throws
/// <see cref="InvalidOperationException"/>; a tenant without a signing key throws too. Thread-safe.
/// </summary>
public interface IJobQueueClient
{
    /// <summary>Adds one job. <paramref name="payloadJson"/> is handed to the handler as is.</summary>
    /// <exception cref="ArgumentException">Invalid queue, name or id, or a payload over <see cref="JobQueueOptions.MaxPayloadBytes"/>.</exception>
    Task<EnqueueResult> EnqueueAsync(string queue, string name, string payloadJson, EnqueueOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Adds many jobs of the current tenant in a few round trips; results are in the order of <paramref name="jobs"/>.</summary>
    Task<IReadOnlyList<EnqueueResult>> EnqueueBulkAsync(string queue, IReadOnlyList<JobRequest> jobs, CancellationToken cancellationToken = default);
}

/// <summary>Typed payload helpers for <see cref="IJobQueueClient"/>.</summary>
public static class JobQueueClientExtensions
{
    /// <summary>Adds one job whose payload is <paramref name="payload"/> serialised with <see cref="JsonSerializerOptions.Web"/>.</summary>
    public static Task<EnqueueResult> EnqueueAsync<TPayload>(
        this IJobQueueClient client, string queue, string name, TPayload payload, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.EnqueueAsync(queue, name, JsonSerializer.Serialize(payload, JsonSerializerOptions.Web), options, cancellationToken);
    }
}

/// <summary>
/// Keeps the current tenant's recurring jobs. The server materialises each occurrence as a job, exactly once even
/// with several servers. Cron: five fields, or six with seconds first; time zone by IANA or Windows id, UTC when null.
/// </summary>
public interface IRecurringJobClient
{
    /// <summary>Creates or replaces a definition; returns false when an identical one exists (its schedule is kept).</summary>
    Task<bool> UpsertAsync(string queue, string recurringId, string cron, string jobName, string payloadJson = "{}", string? timeZone = null, CancellationToken cancellationToken = default);

    /// <summary>Removes a definition; returns false when the tenant has none by that id.</summary>
    Task<bool> RemoveAsync(string queue, string recurringId, CancellationToken cancellationToken = default);

    /// <summary>The tenant's definitions on <paramref name="queue"/>.</summary>
    Task<IReadOnlyList<RecurringJob>> ListAsync(string queue, CancellationToken cancellationToken = default);
}
