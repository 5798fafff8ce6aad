namespace Tenancy;

/// <summary>What the shared services need to serve one tenant.</summary>
/// <param name="DatabaseUrl">The tenant's PostgreSQL database, as a <c>postgresql://</c> URL or an Npgsql connection string.</param>
/// <param name="ElasticsearchNode">Base URL of the tenant's Elasticsearch node, if search is configured.</param>
/// <param name="ElasticsearchIndex">Prefix of the tenant's Elasticsearch indices, if search is configured.</param>
/// <param name="BaseUrl">Public base URL of the tenant's web app, used for links in emails and notifications.</param>
/// <param name="SigningKey">Key that signs and authenticates the tenant's jobs (HMAC-SHA256).</param>
/// <param name="TimeZone">IANA time zone of the tenant's recurring jobs (<c>timeZone</c> / <c>TENANT_&lt;ID&gt;_TIME_ZONE</c>); UTC when null.</param>
/// <param name="SearchLanguage">PostgreSQL text search configuration of the tenant's full-text search (<c>searchLanguage</c> /
/// <c>TENANT_&lt;ID&gt;_SEARCH_LANGUAGE</c>, one of <see cref="Tenancy.SearchLanguage.Known"/>); <see cref="Tenancy.SearchLanguage.Default"/> when null.</param>
public sealed record TenantSettings(
    string DatabaseUrl,
    string? ElasticsearchNode = null,
    string? ElasticsearchIndex = null,
    string? BaseUrl = null,
    string? SigningKey = null,
    string? TimeZone = null,
    string? SearchLanguage = null)
{
    /// <summary>
    /// <see cref="DatabaseUrl"/> in Npgsql connection-string syntax (see <see cref="Tenancy.DatabaseConnectionString"/>).
    /// Settings from the store were validated at load, so this does not throw for them.
    /// </summary>
    public string ConnectionString => Tenancy.DatabaseConnectionString.FromUrl(DatabaseUrl);

    // The synthesized ToString would print the database password and the signing key into any log line that
    // formats settings (and would evaluate ConnectionString, which throws for an invalid URL).
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("DatabaseUrl = ***, ElasticsearchNode = ").Append(ElasticsearchNode)
            .Append(", ElasticsearchIndex = ").Append(ElasticsearchIndex)
            .Append(", BaseUrl = ").Append(BaseUrl)
            .Append(", SigningKey = ").Append(SigningKey is null ? "" : "***")
            .Append(", TimeZone = ").Append(TimeZone)
            .Append(", SearchLanguage = ").Append(SearchLanguage);
        return true;
    }
}

/// <summary>Thrown when a tenant has no configuration. The message is a contract: <c>No configuration found for tenant: &lt;id&gt;</c>.</summary>
public sealed class TenantNotFoundException : Exception
{
    public TenantNotFoundException(string tenantId)
        : base($"No configuration found for tenant: {tenantId}") => TenantId = tenantId;

    public TenantNotFoundException() : base("No configuration found for tenant.") => TenantId = string.Empty;

    public TenantNotFoundException(string message, Exception innerException) : base(message, innerException) => TenantId = string.Empty;

    public string TenantId { get; }
}
