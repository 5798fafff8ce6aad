using System.Text.Json;
using System.Text.RegularExpressions;

namespace AppHost;

/// <summary>
/// One tenant of the topology, from <c>tenants.json</c>: its id and optional overrides.
/// </summary>
internal sealed record Tenant(string Id, string? ElasticsearchNode = null, string? ElasticsearchIndex = null, int WebReplicas = 1)
{
    /// <summary>The id inside variable names: <c>tenant-a</c> becomes <c>TENANT_A</c>.</summary>
    public string VariableForm => Id.Replace('-', '_').ToUpperInvariant();

    /// <summary>Its PostgreSQL database and owner role: <c>tenant-a</c> becomes <c>tenant_a</c> (prefixed when it starts with a digit).</summary>
    public string SqlName => char.IsAsciiLetter(Id[0]) ? Id.Replace('-', '_') : "t_" + Id.Replace('-', '_');
}

/// <summary>Reads and validates the tenant list.</summary>
internal static partial class Tenants
{
    private sealed record TenantsFile(List<Tenant>? Tenants);

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>
    /// Loads <c>--AppHost:Tenants &lt;file&gt;</c> (or <c>AppHost__Tenants</c>), else <c>AppHost/tenants.json</c>.
    /// Ids are checked with ARCHITECTURE.md's rule. The AppHost references only Hosting, not Tenancy, so the rule
    /// is repeated here; it must stay equal to Tenancy's <c>TenantId</c>.
    /// </summary>
    public static IReadOnlyList<Tenant> Load(Hosting.DistributedApplicationBuilder builder)
    {
        var path = Path.GetFullPath(builder.Configuration["AppHost:Tenants"] ?? "tenants.json", builder.AppHostDirectory);
        var file = JsonSerializer.Deserialize<TenantsFile>(File.ReadAllText(path), Json)
            ?? throw new InvalidOperationException($"{path} is empty.");
        var tenants = file.Tenants ?? throw new InvalidOperationException($"{path} has no \"tenants\" array.");
        foreach (var tenant in tenants)
        {
            Validate(tenant.Id, path);
        }
        var duplicate = tenants.GroupBy(t => t.Id).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? tenants : throw new InvalidOperationException($"Tenant '{duplicate.Key}' appears more than once in {path}.");
    }

    internal static void Validate(string? id, string source)
    {
        if (id is null || id.Length is < 2 or > 40 || !Rule().IsMatch(id))
        {
            throw new InvalidOperationException($"Invalid tenant id '{id}' in {source}: a tenant id is 2 to 40 characters of lower-case letters and digits in groups joined by single hyphens (^[a-z0-9]+(-[a-z0-9]+)*$).");
        }
    }

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Rule();
}
