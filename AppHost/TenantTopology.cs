using Hosting.Infrastructure;

namespace AppHost;

/// <summary>AppHost-only helpers that keep Program.cs a readable topology.</summary>
internal static class TenantTopology
{
    private const int SecretLength = 22;

    /// <summary>
    /// A secret generated once (letters and digits, so it is safe unescaped in URLs, JSON and connection strings) and kept
    /// in the AppHost's user secrets; <c>Parameters__&lt;name&gt;</c> overrides it. Published as a generated parameter.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddGeneratedSecret(this IDistributedApplicationBuilder builder, string name, int length = SecretLength) =>
        builder.AddParameter(name, new GenerateParameterDefault { MinLength = length, Special = false }, secret: true, persist: true);

    /// <summary>The tenant's database on the shared server, owned by a role of its own with a generated password.</summary>
    public static IResourceBuilder<TenantDatabaseResource> AddTenantDatabase(this IResourceBuilder<IResourceWithConnectionString> postgres, Tenant tenant) =>
        postgres.AddTenantDatabase($"db-{tenant.Id}", tenant.SqlName, tenant.SqlName, postgres.ApplicationBuilder.AddGeneratedSecret($"db-password-{tenant.Id}"));

    /// <summary>
    /// The tenant's web app searches the way its jobs index: its Elasticsearch when it has one, else PostgreSQL
    /// full-text in its search language (<c>TENANT_&lt;ID&gt;_ELASTICSEARCH_NODE</c>, <c>_ELASTICSEARCH_INDEX</c>, <c>_SEARCH_LANGUAGE</c>).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithTenantSearch(this IResourceBuilder<ProjectResource> web, Tenant tenant, EndpointReference? searchNode)
    {
        foreach (var (field, value) in SearchSettings(tenant, searchNode))
        {
            var variable = $"TENANT_{tenant.VariableForm}_{string.Concat(field.Select(c => char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString()))}";
            web = value switch
            {
                string text => web.WithEnvironment(variable, text),
                EndpointReference endpoint => web.WithEnvironment(variable, endpoint),
                _ => throw new InvalidOperationException($"Unexpected search setting {field}."),
            };
        }
        return web;
    }

    /// <summary>
    /// The tenant's Elasticsearch container, when tenants.json asks for one and containers can run (always when
    /// published); null otherwise, and the tenant searches with PostgreSQL full-text.
    /// </summary>
    public static IResourceBuilder<ContainerResource>? AddTenantSearch(this IDistributedApplicationBuilder builder, Tenant tenant)
    {
        if (!tenant.ElasticsearchContainer)
        {
            return null;
        }
        if (!builder.CanRunContainers())
        {
            Console.Error.WriteLine($"Tenant '{tenant.Id}' asks for an Elasticsearch container, but no container runtime works here: it searches with PostgreSQL full-text in this run.");
            return null;
        }
        return builder.AddElasticsearchContainer($"search-{tenant.Id}");
    }

    /// <summary>The search fields of the tenant's settings, only those it sets (no Elasticsearch unless it has a node).</summary>
    public static IEnumerable<(string Field, object Value)> SearchSettings(Tenant tenant, EndpointReference? searchNode)
    {
        if (((object?)tenant.ElasticsearchNode ?? searchNode) is { } node)
        {
            yield return ("elasticsearchNode", node);
            yield return ("elasticsearchIndex", tenant.ElasticsearchIndex ?? tenant.Id + "-test-cases");
        }
        if (tenant.SearchLanguage is { } language)
        {
            yield return ("searchLanguage", language);
        }
    }

    /// <summary>
    /// In run mode, the Aspire dashboard's address as <c>DASHBOARD_URL</c>, so a job's page links its trace there.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithDashboardLinks(this IResourceBuilder<ProjectResource> web)
    {
        var builder = web.ApplicationBuilder;
        if (builder.ExecutionContext.IsRunMode && builder.Configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() is { } dashboard)
        {
            web.WithEnvironment("DASHBOARD_URL", dashboard);
        }
        return web;
    }
}
