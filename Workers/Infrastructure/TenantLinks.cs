using Tenancy;

namespace Workers.Infrastructure;

/// <summary>Absolute links into the current job's tenant web app, from the tenant's <c>baseUrl</c>.</summary>
public sealed class TenantLinks(ITenantSettingsStore settings, ICurrentTenant currentTenant)
{
    /// <summary><paramref name="path"/> under the tenant's base URL; the bare path when the tenant has none configured.</summary>
    public string Absolute(string path)
    {
        var baseUrl = currentTenant.Id is { } tenant && settings.Current.Tenants.TryGetValue(tenant, out var s) ? s.BaseUrl : null;
        // Not Uri.TryCreate(Absolute): on Unix "/runs/7" parses as an absolute file URI.
        var alreadyAbsolute = path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(baseUrl) || alreadyAbsolute)
        {
            return path;
        }
        return baseUrl.TrimEnd('/') + "/" + path.TrimStart('/');
    }
}
