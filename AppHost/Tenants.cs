using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace AppHost;

/// <summary>One tenant of the topology, from <c>tenants.json</c>: its id and optional settings.</summary>
internal sealed record Tenant
{
    public required string Id { get; init; }

    /// <summary>The tenant's own Elasticsearch (<c>https://user:pass@host:9200</c>); without one, search is PostgreSQL full-text.</summary>
    public string? ElasticsearchNode { get; init; }

    public string? ElasticsearchIndex { get; init; }

    /// <summary>
    /// <c>true</c>: the topology declares an Elasticsearch container for this tenant (published, or when containers can
    /// run) instead of naming an existing <see cref="ElasticsearchNode"/>.
    /// </summary>
    public bool ElasticsearchContainer { get; init; }

    /// <summary>The PostgreSQL text search configuration of the tenant's full-text search (<c>english</c> when unset).</summary>
    public string? SearchLanguage { get; init; }

    public int WebReplicas { get; init; } = 1;

    /// <summary>The id inside variable names: <c>tenant-a</c> becomes <c>TENANT_A</c>.</summary>
    public string VariableForm => Id.Replace('-', '_').ToUpperInvariant();

    /// <summary>Its PostgreSQL database and owner role: <c>tenant-a</c> becomes <c>tenant_a</c> (prefixed when it starts with a digit).</summary>
    public string SqlName => char.IsAsciiLetter(Id[0]) ? Id.Replace('-', '_') : "t_" + Id.Replace('-', '_');
}

/// <summary>A <c>tenants.json</c> the AppHost cannot use; the message names the file and what is wrong.</summary>
internal sealed class TenantsFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads and validates the tenant list.</summary>
internal static partial class Tenants
{
    private const int MaxWebReplicas = 20;

    private sealed record TenantsFile(List<Tenant>? Tenants);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>
    /// Loads <c>--AppHost:Tenants &lt;file&gt;</c> (or <c>AppHost__Tenants</c>), else <c>tenants.json</c> beside the
    /// AppHost. Ids follow ARCHITECTURE.md's rule (the AppHost does not reference Tenancy, so the rule is repeated here
    /// and must stay equal to Tenancy's <c>TenantId</c>); duplicates and unknown fields are refused.
    /// </summary>
    /// <exception cref="TenantsFileException">The file is missing or malformed, or names a bad, duplicate or unknown thing.</exception>
    public static IReadOnlyList<Tenant> Load(IDistributedApplicationBuilder builder)
    {
        var path = Path.GetFullPath(builder.Configuration["AppHost:Tenants"] ?? "tenants.json", builder.AppHostDirectory);
        TenantsFile? file;
        try
        {
            file = JsonSerializer.Deserialize<TenantsFile>(File.ReadAllText(path), Json);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TenantsFileException($"Cannot read the tenant list {path}: {ex.Message}", ex);
        }
        catch (JsonException ex)
        {
            throw new TenantsFileException($"Invalid tenant list {path}: {ex.Message}", ex);
        }
        var tenants = file?.Tenants ?? throw new TenantsFileException($"Invalid tenant list {path}: it has no \"tenants\" array.");
        if (tenants.Count == 0)
        {
            throw new TenantsFileException($"Invalid tenant list {path}: \"tenants\" is empty; declare at least one tenant.");
        }
        foreach (var tenant in tenants)
        {
            Validate(tenant, path);
        }
        var duplicate = tenants.GroupBy(t => t.Id).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? tenants : throw new TenantsFileException($"Invalid tenant list {path}: tenant '{duplicate.Key}' appears more than once.");
    }

    /// <summary>
    /// Whether <paramref name="id"/> is still in the tenant list, read again now (operator commands refuse tenants
    /// removed since the AppHost started). A list that no longer reads keeps the running topology's tenants.
    /// </summary>
    public static bool StillConfigured(IDistributedApplicationBuilder builder, string id)
    {
        var path = Path.GetFullPath(builder.Configuration["AppHost:Tenants"] ?? "tenants.json", builder.AppHostDirectory);
        var written = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue;
        // The rows ask every few seconds for every tenant: read the file again only when it changed.
        var known = _configured;
        if (known is null || known.Written != written)
        {
            try
            {
                known = new(written, Load(builder).Select(t => t.Id).ToHashSet(StringComparer.Ordinal));
            }
            catch (TenantsFileException)
            {
                return true;
            }
            _configured = known;
        }
        return known.Ids.Contains(id);
    }

    private sealed record ConfiguredIds(DateTime Written, HashSet<string> Ids);

    private static ConfiguredIds? _configured;

    private static void Validate(Tenant tenant, string path)
    {
        if (tenant.Id is not { Length: >= 2 and <= 40 } id || !Rule().IsMatch(id))
        {
            throw new TenantsFileException($"Invalid tenant id '{tenant.Id}' in {path}: a tenant id is 2 to 40 characters of lower-case letters and digits in groups joined by single hyphens (^[a-z0-9]+(-[a-z0-9]+)*$).");
        }
        if (tenant.WebReplicas is < 1 or > MaxWebReplicas)
        {
            throw new TenantsFileException($"Invalid webReplicas {tenant.WebReplicas} for tenant '{tenant.Id}' in {path}: use 1 to {MaxWebReplicas}.");
        }
        if (tenant.ElasticsearchContainer && tenant.ElasticsearchNode is not null)
        {
            throw new TenantsFileException($"Tenant '{tenant.Id}' in {path} has both elasticsearchNode and elasticsearchContainer: choose one.");
        }
        if (tenant.ElasticsearchNode is { } node && !(Uri.TryCreate(node, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            throw new TenantsFileException($"Invalid elasticsearchNode '{node}' for tenant '{tenant.Id}' in {path}: use an http:// or https:// URL.");
        }
    }

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Rule();
}
