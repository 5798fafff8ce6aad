using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Web.Infrastructure;

/// <summary>The web app's own settings, from environment variables of the same names.</summary>
internal sealed class WebOptions
{
    /// <summary>The tenant database's connection name: <c>ConnectionStrings__db</c>, what the AppHost's <c>WithReference(database, "db")</c> sets.</summary>
    public const string DatabaseConnectionName = "db";

    public const long DefaultImportMaxBytes = 4L * 1024 * 1024 * 1024;

    /// <summary>The administrator seeded at startup, when both are set. Changing the password here resets it.</summary>
    [EmailAddress]
    public string? ADMIN_EMAIL { get; set; }

    [MinLength(8)]
    public string? ADMIN_PASSWORD { get; set; }

    /// <summary>Largest Testmo upload accepted.</summary>
    [Range(1, long.MaxValue)]
    public long IMPORT_MAX_BYTES { get; set; } = DefaultImportMaxBytes;

    /// <summary>The label of a single-tenant deployment (no <c>INSTANCE_TENANT_ID</c>) in names and claims.</summary>
    public const string NoTenantLabel = "default";

    /// <summary>
    /// How the tenant appears in cookie names and the data-protection application name. Read from configuration
    /// because those are fixed while services are registered; the tenancy store validates the same variable at start.
    /// </summary>
    public static string TenantLabelFor(IConfiguration configuration) =>
        string.IsNullOrWhiteSpace(configuration["INSTANCE_TENANT_ID"]) ? NoTenantLabel : configuration["INSTANCE_TENANT_ID"]!.Trim();

    public static string ApplicationNameFor(IConfiguration configuration) => "web-" + TenantLabelFor(configuration);
}
