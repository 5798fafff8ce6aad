using Microsoft.Extensions.Configuration;

namespace Tenancy;

/// <summary>
/// The database of a single-tenant service (<c>MULTI_TENANT_MODE</c> not <c>true</c>), where no tenant settings
/// exist: Aspire's <c>ConnectionStrings__db</c> wins over the seed's <c>DATABASE_URL</c>.
/// </summary>
public static class SingleTenantDatabase
{
    /// <summary>The Npgsql connection string of the service's database.</summary>
    /// <exception cref="TenantConfigurationException">Neither variable is set, or the value is not a PostgreSQL URL or connection string; the message names the variable.</exception>
    public static string GetConnectionString(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var (key, variable) in new[]
        {
            (TenancyKeys.SingleTenantConnectionString, "ConnectionStrings__db"),
            (TenancyKeys.SingleTenantDatabaseUrl, TenancyKeys.SingleTenantDatabaseUrl),
        })
        {
            var value = configuration[key];
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }
            try
            {
                return DatabaseConnectionString.FromUrl(value);
            }
            catch (FormatException e)
            {
                throw new TenantConfigurationException(variable, null, null, $"the database URL {e.Message}", e);
            }
        }
        throw new TenantConfigurationException("ConnectionStrings__db, DATABASE_URL", null, null,
            "no database is configured; set ConnectionStrings__db (a connection string) or DATABASE_URL (postgresql://user:pass@host:port/db).");
    }
}
