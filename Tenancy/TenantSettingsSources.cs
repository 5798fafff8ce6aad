using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Tenancy;

/// <summary>The configuration keys tenancy reads; one place so messages, docs and parsing agree.</summary>
internal static class TenancyKeys
{
    public const string MultiTenantMode = "MULTI_TENANT_MODE";
    public const string ConfigFile = "TENANT_CONFIG_FILE";
    public const string Configs = "TENANT_CONFIGS";
    public const string VariablePrefix = "TENANT_";
    public const string VariablesSource = "TENANT_<ID>_* variables";
    public const string SingleTenantConnectionString = "ConnectionStrings:db";
    public const string SingleTenantDatabaseUrl = "DATABASE_URL";
    public const string InstanceTenant = "INSTANCE_TENANT_ID";

    /// <summary>
    /// <c>true</c> or <c>false</c> in any case; unset means false. Anything else (<c>1</c>, <c>yes</c>) is refused: a
    /// worker that silently ran single-tenant beside a shared Valkey would be half on.
    /// </summary>
    public static bool IsMultiTenant(IConfiguration configuration)
    {
        var value = configuration[MultiTenantMode];
        if (value is null || value.Length == 0)
        {
            return false;
        }
        return bool.TryParse(value, out var on)
            ? on
            : throw new TenantConfigurationException(MultiTenantMode, null, null, $"'{value}' is neither true nor false (any case); set {MultiTenantMode}=true or {MultiTenantMode}=false.");
    }

    public static string FileSource(string path) => $"{ConfigFile} ({path})";
}

/// <summary>One settings field: its JSON name and the suffix of its individual variable.</summary>
internal sealed record TenantField(string JsonName, string VariableSuffix)
{
    public static readonly TenantField DatabaseUrl = new("databaseUrl", "_DATABASE_URL");
    public static readonly TenantField ElasticsearchNode = new("elasticsearchNode", "_ELASTICSEARCH_NODE");
    public static readonly TenantField ElasticsearchIndex = new("elasticsearchIndex", "_ELASTICSEARCH_INDEX");
    public static readonly TenantField BaseUrl = new("baseUrl", "_BASE_URL");
    public static readonly TenantField SigningKey = new("signingKey", "_SIGNING_KEY");
    public static readonly TenantField TimeZone = new("timeZone", "_TIME_ZONE");
    public static readonly TenantField SearchLanguage = new("searchLanguage", "_SEARCH_LANGUAGE");

    public static readonly IReadOnlyList<TenantField> All = [DatabaseUrl, ElasticsearchNode, ElasticsearchIndex, BaseUrl, SigningKey, TimeZone, SearchLanguage];
}

/// <summary>A field value and the place it came from, so a refusal can name the exact variable or source.</summary>
internal readonly record struct SourcedValue(string Value, string Origin);

/// <summary>
/// Reads every tenant settings source from configuration and merges them per field, lowest precedence first:
/// <c>TENANT_CONFIG_FILE</c>, <c>TENANT_CONFIGS</c>, then <c>TENANT_&lt;ID&gt;_*</c> variables.
/// Pure apart from the warnings it logs: the caller supplies the file's text so reloads and tests control it.
/// </summary>
internal static class TenantSettingsSources
{
    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Builds the merged, validated snapshot. Throws <see cref="TenantConfigurationException"/> on any refusal.</summary>
    /// <param name="configuration">Where <c>TENANT_CONFIGS</c> and the individual variables are read.</param>
    /// <param name="file">The config file's full path and text, or <c>null</c> when <c>TENANT_CONFIG_FILE</c> is not set.</param>
    /// <param name="logger">Receives warnings about ignored keys.</param>
    public static TenantSettingsSnapshot Load(IConfiguration configuration, (string Path, string Text)? file, ILogger logger)
    {
        var merged = new Dictionary<TenantId, Dictionary<TenantField, SourcedValue>>();
        var sources = new List<string>();

        if (file is { } f)
        {
            var fileSource = TenancyKeys.FileSource(f.Path);
            sources.Add(fileSource);
            MergeJson(merged, f.Text, fileSource, logger);
        }

        var configs = configuration[TenancyKeys.Configs];
        if (!string.IsNullOrWhiteSpace(configs))
        {
            sources.Add(TenancyKeys.Configs);
            MergeJson(merged, configs, TenancyKeys.Configs, logger);
        }

        if (MergeVariables(merged, configuration))
        {
            sources.Add(TenancyKeys.VariablesSource);
        }

        var source = sources.Count == 0 ? "no source" : string.Join(", ", sources);
        if (merged.Count == 0)
        {
            throw new TenantConfigurationException(source, null, null,
                $"no tenant is configured, and {TenancyKeys.MultiTenantMode}=true needs at least one. " +
                $"Set {TenancyKeys.ConfigFile}, {TenancyKeys.Configs} or {TenancyKeys.VariablePrefix}<ID>{TenantField.DatabaseUrl.VariableSuffix}.");
        }

        var tenants = merged.ToFrozenDictionary(pair => pair.Key, pair => Build(pair.Key, pair.Value));
        return new TenantSettingsSnapshot(tenants, source);
    }

    /// <summary>Reads the config file so that a writer holding it open, or replacing it, does not block us.</summary>
    public static string ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static TenantSettings Build(TenantId tenant, Dictionary<TenantField, SourcedValue> fields)
    {
        if (!fields.TryGetValue(TenantField.DatabaseUrl, out var database))
        {
            var origins = string.Join(", ", fields.Values.Select(v => v.Origin).Distinct());
            throw new TenantConfigurationException(origins, tenant.Value, TenantField.DatabaseUrl.JsonName,
                $"is missing; every tenant needs a database (set it in {TenancyKeys.ConfigFile}, {TenancyKeys.Configs} or " +
                $"{TenancyKeys.VariablePrefix}{tenant.VariableForm}{TenantField.DatabaseUrl.VariableSuffix}).");
        }
        try
        {
            _ = DatabaseConnectionString.FromUrl(database.Value);
        }
        catch (FormatException e)
        {
            throw new TenantConfigurationException(database.Origin, tenant.Value, TenantField.DatabaseUrl.JsonName,
                $"the database URL {e.Message}", e);
        }
        var timeZone = fields.GetValueOrDefault(TenantField.TimeZone);
        if (timeZone.Value is not null && !TimeZoneInfo.TryFindSystemTimeZoneById(timeZone.Value, out _))
        {
            throw new TenantConfigurationException(timeZone.Origin, tenant.Value, TenantField.TimeZone.JsonName,
                $"'{timeZone.Value}' is not a known time zone (use an IANA id such as Europe/Berlin).");
        }
        var language = fields.GetValueOrDefault(TenantField.SearchLanguage);
        ValidateSearchLanguage(language.Value, language.Origin, tenant.Value);
        return new TenantSettings(
            database.Value,
            fields.GetValueOrDefault(TenantField.ElasticsearchNode).Value,
            fields.GetValueOrDefault(TenantField.ElasticsearchIndex).Value,
            fields.GetValueOrDefault(TenantField.BaseUrl).Value,
            fields.GetValueOrDefault(TenantField.SigningKey).Value,
            timeZone.Value,
            language.Value);
    }

    /// <summary>Refuses a <c>searchLanguage</c> that is not one of PostgreSQL's text search configurations.</summary>
    public static void ValidateSearchLanguage(string? value, string origin, string? tenant)
    {
        if (value is not null && !Tenancy.SearchLanguage.IsKnown(value))
        {
            throw new TenantConfigurationException(origin, tenant, TenantField.SearchLanguage.JsonName, Tenancy.SearchLanguage.Refusal(value));
        }
    }

    private static void MergeJson(Dictionary<TenantId, Dictionary<TenantField, SourcedValue>> merged, string json, string source, ILogger logger)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, JsonOptions);
        }
        catch (JsonException e)
        {
            var line = e.LineNumber is { } l ? l + 1 : 0;
            var position = e.BytePositionInLine is { } p ? p + 1 : 0;
            throw new TenantConfigurationException(source, null, null,
                $"malformed JSON at line {line}, position {position}: {e.Message}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new TenantConfigurationException(source, null, null,
                    $"expected a JSON object keyed by tenant id, found {Describe(document.RootElement.ValueKind)}.");
            }

            // Keys are compared in variable form first: 'tenant-a', 'Tenant-A' and 'tenant_a' all mean TENANT_A, and
            // silently keeping one of them would hide which settings are really in force.
            // This pass runs before the id rule so that the more telling error (two spellings) wins over 'invalid id'.
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var key = property.Name;
                var variableForm = key.Replace('-', '_').ToUpperInvariant();
                if (seen.TryGetValue(variableForm, out var earlier))
                {
                    throw new TenantConfigurationException(source, key, null, earlier == key
                        ? $"tenant '{key}' is defined twice."
                        : $"'{earlier}' and '{key}' are two spellings of one tenant id; keep only the canonical '{key.Replace('_', '-').ToLowerInvariant()}'.");
                }
                seen.Add(variableForm, key);
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                var key = property.Name;
                if (!TenantId.TryParse(key, out var tenant, out var error))
                {
                    throw new TenantConfigurationException(source, key, null, error);
                }
                if (property.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new TenantConfigurationException(source, key, null,
                        $"expected an object of settings, found {Describe(property.Value.ValueKind)}.");
                }
                var fields = FieldsOf(merged, tenant);
                MergeTenantObject(fields, property.Value, source, key, logger);
            }
        }
    }

    private static void MergeTenantObject(Dictionary<TenantField, SourcedValue> fields, JsonElement settings, string source, string tenant, ILogger logger)
    {
        var seen = new HashSet<TenantField>();
        foreach (var property in settings.EnumerateObject())
        {
            var field = TenantField.All.FirstOrDefault(f => f.JsonName.Equals(property.Name, StringComparison.OrdinalIgnoreCase));
            if (field is null)
            {
                TenancyLog.UnknownKey(logger, property.Name, tenant, source);
                continue;
            }
            if (!seen.Add(field))
            {
                throw new TenantConfigurationException(source, tenant, field.JsonName, "is defined twice.");
            }
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.String:
                    var value = property.Value.GetString();
                    // An empty value contributes nothing, like an unset variable, so it cannot blank a lower layer.
                    if (!string.IsNullOrWhiteSpace(value))
                    {
                        fields[field] = new SourcedValue(value.Trim(), source);
                    }
                    break;
                case JsonValueKind.Null:
                    break;
                default:
                    throw new TenantConfigurationException(source, tenant, field.JsonName,
                        $"must be a string, found {Describe(property.Value.ValueKind)}.");
            }
        }
    }

    /// <summary>
    /// Refuses every <c>TENANT_*</c> variable that maps to no tenant setting (a typo would otherwise be ignored without
    /// a word): lower case, a double underscore (which configuration reads as a section, <c>TENANT_TENANT__B_...</c>),
    /// or a name that ends in no field. <c>TENANT_CONFIGS</c> and <c>TENANT_CONFIG_FILE</c> are the two other names.
    /// </summary>
    public static void RefuseUnmappedVariables(IConfiguration configuration)
    {
        foreach (var section in configuration.GetChildren())
        {
            var name = section.Key;
            if (!name.StartsWith(TenancyKeys.VariablePrefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var nested = section.AsEnumerable(makePathsRelative: true).Where(p => p.Key.Length > 0).Select(p => p.Key).FirstOrDefault();
            if (nested is not null)
            {
                throw Unmapped($"{name}__{nested.Replace(":", "__", StringComparison.Ordinal)}",
                    "a double underscore is no part of any tenant variable (a '-' in a tenant id becomes one '_').");
            }
            if (name is TenancyKeys.Configs or TenancyKeys.ConfigFile)
            {
                continue;
            }
            if (!name.StartsWith(TenancyKeys.VariablePrefix, StringComparison.Ordinal) || name.Any(char.IsLower))
            {
                throw Unmapped(name, $"tenant variables are upper case ({TenancyKeys.VariablePrefix}<ID>_<FIELD>, e.g. {name.ToUpperInvariant()}).");
            }
            var field = TenantField.All.FirstOrDefault(f => name.EndsWith(f.VariableSuffix, StringComparison.Ordinal));
            if (field is null || name.Length <= TenancyKeys.VariablePrefix.Length + field.VariableSuffix.Length)
            {
                throw Unmapped(name, $"it names no tenant setting; use {TenancyKeys.VariablePrefix}<ID> followed by one of " +
                    string.Join(", ", TenantField.All.Select(f => f.VariableSuffix)) + $", or {TenancyKeys.Configs} / {TenancyKeys.ConfigFile}.");
            }
        }
    }

    private static TenantConfigurationException Unmapped(string variable, string problem) =>
        new(variable, null, null, $"does not map to a tenant setting: {problem}");

    /// <returns>Whether any individual variable was found.</returns>
    private static bool MergeVariables(Dictionary<TenantId, Dictionary<TenantField, SourcedValue>> merged, IConfiguration configuration)
    {
        var found = false;
        // Individual variables override per field, after the JSON sources, whatever order configuration lists them in.
        foreach (var section in configuration.GetChildren())
        {
            var name = section.Key;
            if (!name.StartsWith(TenancyKeys.VariablePrefix, StringComparison.Ordinal) || string.IsNullOrWhiteSpace(section.Value))
            {
                continue;
            }
            // The suffixes are fixed and none ends another ('_BASE_URL' is not the end of '_DATABASE_URL'), so
            // stripping the one that matches leaves exactly the id's variable form, even for ids like 'tenant-a'.
            var field = TenantField.All.FirstOrDefault(f => name.EndsWith(f.VariableSuffix, StringComparison.Ordinal));
            if (field is null || name.Length < TenancyKeys.VariablePrefix.Length + field.VariableSuffix.Length)
            {
                continue;
            }
            var variableForm = name[TenancyKeys.VariablePrefix.Length..^field.VariableSuffix.Length];
            TenantId tenant;
            try
            {
                tenant = TenantId.FromVariableForm(variableForm);
            }
            catch (FormatException e)
            {
                throw new TenantConfigurationException(name, variableForm, null, e.Message, e);
            }
            FieldsOf(merged, tenant)[field] = new SourcedValue(section.Value.Trim(), name);
            found = true;
        }
        return found;
    }

    private static Dictionary<TenantField, SourcedValue> FieldsOf(Dictionary<TenantId, Dictionary<TenantField, SourcedValue>> merged, TenantId tenant)
    {
        if (!merged.TryGetValue(tenant, out var fields))
        {
            fields = [];
            merged.Add(tenant, fields);
        }
        return fields;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
