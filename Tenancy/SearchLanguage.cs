using System.Collections.Frozen;

namespace Tenancy;

/// <summary>
/// The PostgreSQL text search configuration (<c>regconfig</c>) a tenant's full-text search stems and drops stop
/// words with: <c>searchLanguage</c> / <c>TENANT_&lt;ID&gt;_SEARCH_LANGUAGE</c>, or <c>SEARCH_LANGUAGE</c> for a
/// single-tenant web app. <see cref="Default"/> when unset.
/// </summary>
public static class SearchLanguage
{
    /// <summary>What a tenant without a setting searches with.</summary>
    public const string Default = "english";

    /// <summary>The single-tenant web app's setting (no tenant settings exist there).</summary>
    public const string SingleTenantVariable = "SEARCH_LANGUAGE";

    /// <summary>
    /// The configurations every PostgreSQL 15+ server ships in <c>pg_catalog</c> (<c>SELECT cfgname FROM pg_ts_config</c>),
    /// so a setting can be refused at load, before any database is asked; applying one to a database casts it to
    /// <c>regconfig</c> there too.
    /// </summary>
    public static readonly FrozenSet<string> Known = FrozenSet.Create(StringComparer.Ordinal,
        "simple", "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish", "french", "german",
        "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian", "portuguese",
        "romanian", "russian", "serbian", "spanish", "swedish", "tamil", "turkish", "yiddish");

    /// <summary>Whether <paramref name="value"/> names one of <see cref="Known"/> (lower case, as PostgreSQL names them).</summary>
    public static bool IsKnown(string? value) => value is not null && Known.Contains(value);

    /// <summary>The refusal of an unknown value, naming the accepted ones.</summary>
    public static string Refusal(string value) =>
        $"'{value}' is not a PostgreSQL text search configuration; use one of: {string.Join(", ", Known.Order(StringComparer.Ordinal))}.";
}
