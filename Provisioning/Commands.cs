using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tenancy;

namespace Provisioning;

/// <summary><c>provision</c>: every configured tenant, with one line per tenant and a summary.</summary>
internal static class ProvisionCommand
{
    public const string AdminConnectionName = "ConnectionStrings:postgres";
    public const string AdminUrlVariable = "DATABASE_ADMIN_URL";
    public const string ParallelismVariable = "PROVISIONING_PARALLELISM";

    /// <param name="store">The same settings, validation and sources as the workers' (TENANT_CONFIG_FILE, TENANT_CONFIGS, variables).</param>
    public static async Task<int> RunAsync(IConfiguration configuration, ITenantSettingsStore store, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken)
    {
        var admin = AdminConnectionString(configuration);
        if (!store.IsMultiTenant)
        {
            throw new TenantConfigurationException("MULTI_TENANT_MODE", null, null, "must be true: provisioning works on the tenants of the tenant settings.");
        }
        var provisioner = new TenantProvisioner(admin, loggers, time)
        {
            Parallelism = configuration.GetValue(ParallelismVariable, 4),
        };
        var results = await provisioner.ProvisionAsync(store.Current.Tenants, cancellationToken);
        var failed = results.Where(r => !r.Succeeded).ToList();
        var changed = results.Count(r => r.Succeeded && r.Changes.Count > 0);
        Console.WriteLine($"Provisioned {results.Count - failed.Count} of {results.Count} tenants ({changed} changed, {results.Count - failed.Count - changed} unchanged)" +
            (failed.Count == 0 ? "." : $"; failed: {string.Join("; ", failed.Select(f => $"{f.Tenant}: {f.Failure}"))}"));
        return failed.Count == 0 ? 0 : 1;
    }

    private static string AdminConnectionString(IConfiguration configuration)
    {
        var value = configuration[AdminConnectionName] is { Length: > 0 } connectionString ? (AdminConnectionName.Replace(":", "__", StringComparison.Ordinal), connectionString)
            : configuration[AdminUrlVariable] is { Length: > 0 } url ? (AdminUrlVariable, url)
            : throw new TenantConfigurationException($"{AdminConnectionName.Replace(":", "__", StringComparison.Ordinal)} / {AdminUrlVariable}", null, null,
                "is not set: provisioning needs a role that may create roles and databases on the tenants' server.");
        try
        {
            return DatabaseConnectionString.FromUrl(value.Item2);
        }
        catch (FormatException e)
        {
            throw new TenantConfigurationException(value.Item1, null, null, $"the database URL {e.Message}", e);
        }
    }
}

/// <summary><c>wait</c>: for the init container of a tenant's web app.</summary>
internal static class WaitCommand
{
    public static async Task<int> RunAsync(IConfiguration configuration, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken)
    {
        var connectionString = SingleTenantDatabase.GetConnectionString(configuration);
        await new DatabaseWait(connectionString, loggers.CreateLogger<DatabaseWait>(), time).WaitAsync(cancellationToken);
        return 0;
    }
}
