using Tenancy;

namespace Workers.Infrastructure;

/// <summary>Absolute links into the current job's tenant web app, from the tenant's <c>baseUrl</c>.</summary>
public sealed class TenantLinks(ITenantSettingsStore settings, ICurrentTenant currentTenant)
{
    /// <summary><paramref name="path"/> under the tenant's base URL; the bare path when the tenant has none configured.</summary>
    public string Absolute(string path)
    {
        var baseUrl = settings.Find(currentTenant.Id)?.BaseUrl;
        // Not Uri.TryCreate(Absolute): on Unix "/runs/7" parses as an absolute file URI.
        var alreadyAbsolute = path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(baseUrl) || alreadyAbsolute)
        {
            return path;
        }
        return baseUrl.TrimEnd('/') + "/" + path.TrimStart('/');
    }
}
