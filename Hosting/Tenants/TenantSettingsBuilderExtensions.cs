using Hosting.Infrastructure;

namespace Hosting.Tenants;

/// <summary>
/// One tenant as the shared services (workers, scheduler, tenant-provisioning) know it: its database (own role and
/// password), its web app's address (<c>baseUrl</c>), its signing key, and optional plain fields (search).
/// </summary>
public sealed record TenantSettingsEntry(
    string Id,
    TenantDatabaseResource Database,
    EndpointReference BaseUrl,
    ParameterResource SigningKey,
    IReadOnlyList<(string Field, object Value)> PlainFields)
{
    /// <summary>The id in variable names: <c>tenant-a</c> becomes <c>TENANT_A</c> (<c>TENANT_TENANT_A_SIGNING_KEY</c>).</summary>
    public string VariableForm => Id.Replace('-', '_').ToUpperInvariant();
}

/// <summary>The tenants of a service that reads every tenant's settings; the Kubernetes writer mounts them as files.</summary>
public sealed class TenantSettingsAnnotation(IReadOnlyList<TenantSettingsEntry> tenants) : IResourceAnnotation
{
    /// <summary>The variable that carries them in run mode and in the azd manifest.</summary>
    public const string Variable = "TENANT_CONFIGS";

    public IReadOnlyList<TenantSettingsEntry> Tenants { get; } = tenants;
}

public static class TenantSettingsBuilderExtensions
{
    /// <summary>
    /// Gives <paramref name="project"/> every tenant's settings: <c>TENANT_CONFIGS</c> (a JSON object keyed by tenant id)
    /// in run mode and in the azd manifest; published for Kubernetes, files mounted from ConfigMaps (plain settings) and
    /// Secrets (each password and signing key a file of its own), read through <c>TENANT_CONFIG_FILE</c>.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithTenantSettings(this IResourceBuilder<ProjectResource> project, IReadOnlyList<TenantSettingsEntry> tenants)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(tenants);
        return project
            .WithAnnotation(new TenantSettingsAnnotation(tenants))
            .WithEnvironment(TenantSettingsAnnotation.Variable, Json(tenants));
    }

    /// <summary>
    /// <c>TENANT_CONFIGS</c>: <c>databaseUrl</c> (the tenant's own role, password URI-encoded), <c>baseUrl</c>,
    /// <c>signingKey</c>, then the plain fields. Values are URIs or generated letters and digits: nothing in them needs JSON escaping.
    /// </summary>
    public static ReferenceExpression Json(IEnumerable<TenantSettingsEntry> tenants)
    {
        var json = new ReferenceExpressionBuilder();
        Literal(json, "{");
        var first = true;
        foreach (var tenant in tenants)
        {
            Literal(json, first ? "" : ",");
            first = false;
            Literal(json, $"\"{tenant.Id}\":{{\"databaseUrl\":\"");
            json.AppendValueProvider(tenant.Database.UriExpression);
            Literal(json, "\",\"baseUrl\":\"");
            json.AppendValueProvider(tenant.BaseUrl);
            Literal(json, "\",\"signingKey\":\"");
            json.AppendValueProvider(tenant.SigningKey);
            Literal(json, "\"");
            foreach (var (field, value) in tenant.PlainFields)
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

    /// <summary>The builder's literals are format-string text: braces must be doubled to stay braces.</summary>
    private static void Literal(ReferenceExpressionBuilder json, string text) =>
        json.AppendLiteral(text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal));
}
