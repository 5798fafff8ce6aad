namespace Tenancy;

/// <summary>
/// Thrown when the tenant configuration is refused: malformed JSON, a tenant id breaking the rule, two spellings
/// of one id, a missing or unparsable database URL, a non-string value, or no tenant at all in multi-tenant mode.
/// The message always names the place (<see cref="ConfigurationSource"/>, and <see cref="TenantId"/>/<see cref="Field"/> where
/// they apply) so an operator can fix the configuration without reading code. Secrets are never echoed.
/// </summary>
public sealed class TenantConfigurationException : Exception
{
    /// <summary>Creates the exception for a problem found in <paramref name="source"/>.</summary>
    /// <param name="source">Where the problem is, e.g. <c>TENANT_CONFIGS</c> or <c>TENANT_CONFIG_FILE (/etc/tenants.json)</c>.</param>
    /// <param name="tenantId">The tenant id as written in the configuration, when the problem belongs to one tenant.</param>
    /// <param name="field">The settings field (e.g. <c>databaseUrl</c>), when the problem belongs to one field.</param>
    /// <param name="problem">What is wrong, phrased to follow the place.</param>
    /// <param name="innerException">The underlying parse error, if any.</param>
    public TenantConfigurationException(string source, string? tenantId, string? field, string problem, Exception? innerException = null)
        : base(Compose(source, tenantId, field, problem), innerException)
    {
        ConfigurationSource = source;
        TenantId = tenantId;
        Field = field;
    }

    public TenantConfigurationException() : this("tenant configuration", null, null, "is invalid.")
    {
    }

    public TenantConfigurationException(string message) : base(message) => ConfigurationSource = "tenant configuration";

    public TenantConfigurationException(string message, Exception innerException) : base(message, innerException) =>
        ConfigurationSource = "tenant configuration";

    /// <summary>Where the problem is: a variable name, <c>TENANT_CONFIGS</c>, or <c>TENANT_CONFIG_FILE (path)</c>.</summary>
    public string ConfigurationSource { get; }

    /// <summary>The offending tenant id as written, or <c>null</c> when the problem is not about one tenant.</summary>
    public string? TenantId { get; }

    /// <summary>The offending field, or <c>null</c> when the problem is not about one field.</summary>
    public string? Field { get; }

    private static string Compose(string source, string? tenantId, string? field, string problem)
    {
        var place = source;
        if (tenantId is not null)
        {
            place += $", tenant '{tenantId}'";
        }
        if (field is not null)
        {
            place += $", field '{field}'";
        }
        return $"{place}: {problem}";
    }
}
