using Queue.Storage;
using Tenancy;

namespace Queue;

/// <summary>A recurring definition seen across tenants: <see cref="Tenant"/> is null for a single-tenant deployment's.</summary>
public sealed record RecurringJobEntry(TenantId? Tenant, string Id, DateTimeOffset? NextOccurrence);

/// <summary>
/// The operator's view of recurring definitions across all tenants, for the scheduler's reconcile (removing what
/// tenants that left, or a former single-tenant deployment, still have). NOT tenant-scoped: never expose it to a
/// tenant's web app, which uses the tenant-scoped <see cref="IRecurringJobClient"/>. Thread-safe.
/// </summary>
public interface IRecurringJobInventory
{
    /// <summary>Every recurring definition on <paramref name="queue"/>, of every tenant.</summary>
    Task<IReadOnlyList<RecurringJobEntry>> ListAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Removes one tenant's (or the single-tenant slot's) definition; false when it did not exist.</summary>
    Task<bool> RemoveAsync(string queue, TenantId? tenant, string recurringId, CancellationToken cancellationToken = default);
}

internal sealed class RecurringJobInventory(QueueStorage storage) : IRecurringJobInventory
{
    public async Task<IReadOnlyList<RecurringJobEntry>> ListAsync(string queue, CancellationToken cancellationToken = default)
    {
        JobNames.ValidateQueue(queue);
        var entries = await storage.AllRecurringAsync(queue);
        return [.. entries.Select(e => new RecurringJobEntry(
            e.Tenant == QueueLayout.NoTenant ? null : TenantId.Parse(e.Tenant), e.Id, DateTimeOffset.FromUnixTimeMilliseconds(e.NextMs)))];
    }

    public Task<bool> RemoveAsync(string queue, TenantId? tenant, string recurringId, CancellationToken cancellationToken = default)
    {
        JobNames.ValidateQueue(queue);
        return storage.RemoveRecurringAsync(queue, tenant?.Value ?? QueueLayout.NoTenant, recurringId);
    }
}
