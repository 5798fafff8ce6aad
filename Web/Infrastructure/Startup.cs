using System.Xml.Linq;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using Tenancy;
using Web.Services;

namespace Web.Infrastructure;

internal static class StartupExtensions
{
    /// <summary>
    /// Before the app serves: migrate the tenant database (serialised across replicas), stamp its tenant marker, set
    /// the language of its full-text search and seed the administrator from ADMIN_EMAIL / ADMIN_PASSWORD.
    /// </summary>
    public static async Task PrepareDatabaseAsync(this WebApplication app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var tenants = scope.ServiceProvider.GetRequiredService<ITenantSettingsStore>();
        var language = SearchLanguageOf(tenants, app.Configuration);
        await scope.ServiceProvider.GetRequiredService<TenantDatabaseMigrator>().MigrateAsync(tenants.InstanceTenant?.Value, language, app.Lifetime.ApplicationStopping);

        var options = scope.ServiceProvider.GetRequiredService<IOptions<WebOptions>>().Value;
        if (!string.IsNullOrWhiteSpace(options.ADMIN_EMAIL) && !string.IsNullOrWhiteSpace(options.ADMIN_PASSWORD))
        {
            await scope.ServiceProvider.GetRequiredService<UserAccounts>().EnsureAdminAsync(options.ADMIN_EMAIL, options.ADMIN_PASSWORD, app.Lifetime.ApplicationStopping);
        }
    }

    /// <summary>
    /// The text search configuration of this app's tenant: its <c>TENANT_&lt;ID&gt;_SEARCH_LANGUAGE</c> (validated by
    /// the store), else <c>SEARCH_LANGUAGE</c>, else English. An unknown <c>SEARCH_LANGUAGE</c> stops the start.
    /// </summary>
    internal static string SearchLanguageOf(ITenantSettingsStore tenants, IConfiguration configuration)
    {
        if (tenants.Find(tenants.InstanceTenant)?.SearchLanguage is { } configured)
        {
            return configured;
        }
        var value = configuration[SearchLanguage.SingleTenantVariable]?.Trim();
        if (string.IsNullOrEmpty(value))
        {
            return SearchLanguage.Default;
        }
        return SearchLanguage.IsKnown(value)
            ? value
            : throw new TenantConfigurationException(SearchLanguage.SingleTenantVariable, null, null, SearchLanguage.Refusal(value));
    }

    /// <summary>Every request of a tenant's app runs as that tenant: what it reads, shows and enqueues is that tenant's.</summary>
    public static IApplicationBuilder UseInstanceTenant(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var tenant = context.RequestServices.GetRequiredService<ITenantSettingsStore>().InstanceTenant;
            if (tenant is null)
            {
                await next(context);
                return;
            }
            using var scope = TenantScope.Begin(tenant.Value);
            // The request's span started before the tenant was known; tag it now so the whole trace carries it.
            TenantTelemetry.Tag(System.Diagnostics.Activity.Current, tenant.Value);
            await next(context);
        });
}

/// <summary>Data-protection keys in the tenant database, so the tenant's replicas read each other's cookies.</summary>
internal sealed class DatabaseXmlRepository(IServiceScopeFactory scopes) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TenantDbContext>();
        return db.DataProtectionKeys.AsNoTracking().Select(k => k.Xml).ToList().Select(XElement.Parse).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TenantDbContext>();
        db.DataProtectionKeys.Add(new DataProtectionKey { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        db.SaveChanges();
    }
}
