using Hosting.Infrastructure;

namespace AppHost;

/// <summary>What one tenant adds to the topology: its database (own role), its web app, its signing key.</summary>
internal sealed record TenantResources(
    Tenant Tenant,
    IResourceBuilder<TenantDatabaseResource> Database,
    IResourceBuilder<ProjectResource> Web,
    IResourceBuilder<ParameterResource> SigningKey,
    EndpointReference? SearchNode);

/// <summary>AppHost-only helpers that keep Program.cs a readable topology.</summary>
internal static class TenantTopology
{
    private const int SecretLength = 22;
    private const int SigningKeyLength = 48;

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
    /// <c>TENANT_CONFIGS</c>: a JSON object keyed by tenant id with <c>databaseUrl</c> (the tenant's own role),
    /// <c>baseUrl</c> (the tenant web's URL), <c>signingKey</c>, and <c>elasticsearchNode</c> / <c>elasticsearchIndex</c>
    /// only for tenants that have an Elasticsearch (the others search with PostgreSQL full-text).
    /// </summary>
    public static ReferenceExpression TenantConfigs(IEnumerable<TenantResources> tenants)
    {
        var json = new ReferenceExpressionBuilder();
        Literal(json, "{");
        var first = true;
        foreach (var (tenant, database, web, signingKey, searchNode) in tenants)
        {
            Literal(json, first ? "" : ",");
            first = false;
            // Values are URIs (percent-encoded) or generated letters and digits: nothing in them needs JSON escaping.
            Literal(json, $"\"{tenant.Id}\":{{\"databaseUrl\":\"");
            json.AppendValueProvider(database.Resource.UriExpression);
            Literal(json, "\",\"baseUrl\":\"");
            json.AppendValueProvider(web.GetEndpoint("http"));
            Literal(json, "\",\"signingKey\":\"");
            json.AppendValueProvider(signingKey.Resource);
            Literal(json, "\"");
            foreach (var (field, value) in SearchSettings(tenant, searchNode))
            {
                if (value is string text)
                {
                    Literal(json, $",\"{field}\":{System.Text.Json.JsonSerializer.Serialize(text)}");
                }
                else
                {
                    Literal(json, $",\"{field}\":\"");
                    json.AppendValueProvider(value);
                    Literal(json, "\"");
                }
            }
            Literal(json, "}");
        }
        Literal(json, "}");
        return json.Build();
    }

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
    private static IEnumerable<(string Field, object Value)> SearchSettings(Tenant tenant, EndpointReference? searchNode)
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

    /// <summary>The builder's literals are format-string text: braces must be doubled to stay braces.</summary>
    private static void Literal(ReferenceExpressionBuilder json, string text) =>
        json.AppendLiteral(text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal));
}
