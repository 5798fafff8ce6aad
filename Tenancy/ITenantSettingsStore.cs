namespace Tenancy;

/// <summary>
/// The tenant settings the shared services run with, merged from every configured source.
/// Implementations are thread-safe; a reload swaps the whole snapshot at once, so a reader never sees a half-applied change.
/// </summary>
public interface ITenantSettingsStore
{
    /// <summary>True when <c>MULTI_TENANT_MODE=true</c>: jobs and requests must carry a tenant.</summary>
    bool IsMultiTenant { get; }

    /// <summary>
    /// The one tenant this process serves when it is a tenant's own instance (<c>INSTANCE_TENANT_ID</c>, as a tenant's
    /// web app is), else null. Such a store holds exactly that tenant: its database from <c>ConnectionStrings__db</c> /
    /// <c>DATABASE_URL</c> and the rest from its <c>TENANT_&lt;ID&gt;_*</c> variables (the signing key of its jobs above all).
    /// </summary>
    TenantId? InstanceTenant { get; }

    /// <summary>The settings in force now. Never changes after it is returned; later reloads produce new snapshots.</summary>
    TenantSettingsSnapshot Current { get; }

    /// <summary>The settings of <paramref name="tenant"/>; throws <see cref="TenantNotFoundException"/> if it has none.</summary>
    TenantSettings Get(TenantId tenant);

    /// <summary>
    /// Raised after a reload changed the set of tenants or any tenant's settings (a reload that changes nothing, or
    /// fails, raises nothing; a failed reload keeps the previous snapshot and is logged). Raised on a thread-pool
    /// thread, one reload at a time and in order; keep handlers short, since the next reload waits for them.
    /// A handler that throws is logged and does not undo the reload.
    /// </summary>
    event EventHandler<TenantSettingsChangedEventArgs>? Changed;
}

/// <summary>Lookups over <see cref="ITenantSettingsStore"/>.</summary>
public static class TenantSettingsStoreExtensions
{
    /// <summary>The settings of <paramref name="tenant"/> in force now, or null for no tenant or an unknown one (no exception).</summary>
    public static TenantSettings? Find(this ITenantSettingsStore store, TenantId? tenant)
    {
        ArgumentNullException.ThrowIfNull(store);
        return tenant is { } id && store.Current.Tenants.TryGetValue(id, out var settings) ? settings : null;
    }
}

/// <summary>An immutable view of all tenants' settings and where they came from.</summary>
public sealed record TenantSettingsSnapshot(IReadOnlyDictionary<TenantId, TenantSettings> Tenants, string Source)
{
    /// <summary>No tenants: the snapshot of a single-tenant service.</summary>
    public static TenantSettingsSnapshot Empty { get; } = new(new Dictionary<TenantId, TenantSettings>(), "none");
}

/// <summary>What a reload changed.</summary>
public sealed class TenantSettingsChangedEventArgs(
    TenantSettingsSnapshot previous,
    TenantSettingsSnapshot current,
    IReadOnlyCollection<TenantId> added,
    IReadOnlyCollection<TenantId> removed,
    IReadOnlyCollection<TenantId> changed) : EventArgs
{
    public TenantSettingsSnapshot Previous { get; } = previous;
    public TenantSettingsSnapshot Current { get; } = current;
    public IReadOnlyCollection<TenantId> Added { get; } = added;
    public IReadOnlyCollection<TenantId> Removed { get; } = removed;
    public IReadOnlyCollection<TenantId> Changed { get; } = changed;
}
