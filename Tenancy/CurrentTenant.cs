namespace Tenancy;

/// <summary>
/// Reads the tenant the current code runs for (the read side; see <see cref="TenantScope"/> for the write side).
/// The value flows with the async execution context, so concurrent requests and jobs never see each other's tenant.
/// </summary>
public interface ICurrentTenant
{
    /// <summary>The ambient tenant, or <c>null</c> outside any tenant scope.</summary>
    TenantId? Id { get; }

    /// <summary>The ambient tenant; throws <see cref="InvalidOperationException"/> outside any tenant scope.</summary>
    TenantId Required { get; }
}

/// <summary>
/// Sets the ambient tenant for the code that runs inside it. Used only by the web request pipeline and the
/// job runner; application code reads the tenant through <see cref="ICurrentTenant"/>.
/// Scopes nest: disposing an inner scope restores the outer tenant. A scope is bound to the async flow that
/// created it, so scopes opened by concurrent tasks are invisible to each other.
/// </summary>
public sealed class TenantScope : IDisposable
{
    private static readonly AsyncLocal<TenantId?> Ambient = new();

    private readonly TenantId? _previous;
    private bool _disposed;

    private TenantScope(TenantId tenant)
    {
        _previous = Ambient.Value;
        Ambient.Value = tenant;
        Tenant = tenant;
    }

    /// <summary>The tenant this scope sets.</summary>
    public TenantId Tenant { get; }

    internal static TenantId? Current => Ambient.Value;

    /// <summary>Makes <paramref name="tenant"/> current until the returned scope is disposed.</summary>
    public static TenantScope Begin(TenantId tenant)
    {
        if (tenant.Value is null)
        {
            throw new ArgumentException("A tenant scope needs a valid tenant id, not a default TenantId.", nameof(tenant));
        }
        return new TenantScope(tenant);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Ambient.Value = _previous;
    }
}

/// <summary>The <see cref="ICurrentTenant"/> backed by <see cref="TenantScope"/>. Stateless, safe as a singleton.</summary>
public sealed class AmbientCurrentTenant : ICurrentTenant
{
    public TenantId? Id => TenantScope.Current;

    public TenantId Required => TenantScope.Current
        ?? throw new InvalidOperationException("No tenant is current: this code must run inside a tenant scope (a web request of a tenant's app or a tenant's job).");
}
