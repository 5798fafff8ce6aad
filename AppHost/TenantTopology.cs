using Hosting;

namespace AppHost;

/// <summary>What one tenant adds to the topology: its database (own role), its web app, its secrets.</summary>
internal sealed record TenantResources(
    Tenant Tenant,
    IResourceBuilder<PostgresDatabaseResource> Database,
    IResourceBuilder<ProjectResource> Web,
    IResourceBuilder<ParameterResource> SigningKey,
    IResourceBuilder<ParameterResource> AdminPassword);

/// <summary>AppHost-only helpers that keep Program.cs a readable topology.</summary>
internal static class TenantTopology
{
    private const int SigningKeyLength = 48;

    /// <summary>The tenant's database on <paramref name="postgres"/>, owned by a role of its own with a generated password.</summary>
    public static IResourceBuilder<PostgresDatabaseResource> AddTenantDatabase(this IResourceBuilder<PostgresServerResource> postgres, Tenant tenant) =>
        postgres.AddDatabase($"db-{tenant.Id}", tenant.SqlName)
            .WithOwner(tenant.SqlName, postgres.ApplicationBuilder.AddGeneratedParameter($"db-password-{tenant.Id}"));

    public static IResourceBuilder<ParameterResource> AddSigningKey(this DistributedApplicationBuilder builder, Tenant tenant) =>
        builder.AddGeneratedParameter($"signing-key-{tenant.Id}", SigningKeyLength);

    public static IResourceBuilder<ParameterResource> AddAdminPassword(this DistributedApplicationBuilder builder, Tenant tenant) =>
        builder.AddGeneratedParameter($"admin-password-{tenant.Id}");

    /// <summary>
    /// <c>TENANT_CONFIGS</c>: a JSON object keyed by tenant id with <c>databaseUrl</c> (the tenant's own role),
    /// <c>elasticsearchNode</c>, <c>elasticsearchIndex</c>, <c>baseUrl</c> (the tenant web's URL) and <c>signingKey</c>.
    /// </summary>
    public static ReferenceExpression TenantConfigs(IReadOnlyList<TenantResources> tenants, IResourceBuilder<ParameterResource> elasticsearchNode)
    {
        var json = new ReferenceExpressionBuilder().AppendLiteral("{");
        for (var i = 0; i < tenants.Count; i++)
        {
            var (tenant, database, web, signingKey, _) = tenants[i];
            json.AppendLiteral(i == 0 ? string.Empty : ",")
                .AppendLiteral($"\"{tenant.Id}\":{{\"databaseUrl\":").AppendJsonString(database.Resource.UriExpression)
                .AppendLiteral(",\"elasticsearchNode\":").AppendJsonString(tenant.ElasticsearchNode is { } node ? ReferenceExpression.Literal(node) : elasticsearchNode.Resource)
                .AppendLiteral($",\"elasticsearchIndex\":\"{tenant.ElasticsearchIndex ?? tenant.Id + "-test-cases"}\"")
                .AppendLiteral(",\"baseUrl\":").AppendJsonString(web.Resource.GetEndpoint("http"))
                .AppendLiteral(",\"signingKey\":").AppendJsonString(signingKey.Resource)
                .AppendLiteral("}");
        }
        return json.AppendLiteral("}").Build();
    }
}
