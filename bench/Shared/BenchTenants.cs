using Tenancy;

/// <summary>The benchmarks' tenants: each with a signing key of its own, settings that never change.</summary>
internal sealed class BenchTenants(TenantId[] tenants) : ITenantSettingsStore
{
    private readonly Dictionary<TenantId, TenantSettings> _settings = tenants.ToDictionary(t => t, t => new TenantSettings($"postgresql://localhost/{t}", SigningKey: $"bench-key-{t}"));

    public bool IsMultiTenant => true;

    public TenantId? InstanceTenant => null;

    public TenantSettingsSnapshot Current => new(_settings, "bench");

#pragma warning disable CS0067 // Settings never change during a benchmark.
    public event EventHandler<TenantSettingsChangedEventArgs>? Changed;
#pragma warning restore CS0067

    public TenantSettings Get(TenantId tenant) => _settings.TryGetValue(tenant, out var s) ? s : throw new TenantNotFoundException(tenant.Value);
}
