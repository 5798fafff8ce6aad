using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

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
    public static readonly TenantField DatabasePassword = new("databasePassword", "_DATABASE_PASSWORD");
    public static readonly TenantField ElasticsearchNode = new("elasticsearchNode", "_ELASTICSEARCH_NODE");
    public static readonly TenantField ElasticsearchIndex = new("elasticsearchIndex", "_ELASTICSEARCH_INDEX");
    public static readonly TenantField BaseUrl = new("baseUrl", "_BASE_URL");
    public static readonly TenantField SigningKey = new("signingKey", "_SIGNING_KEY");
    public static readonly TenantField TimeZone = new("timeZone", "_TIME_ZONE");
    public static readonly TenantField SearchLanguage = new("searchLanguage", "_SEARCH_LANGUAGE");

    public static readonly IReadOnlyList<TenantField> All = [DatabaseUrl, DatabasePassword, ElasticsearchNode, ElasticsearchIndex, BaseUrl, SigningKey, TimeZone, SearchLanguage];

    /// <summary>The field named <paramref name="name"/> (any case), or null.</summary>
    public static TenantField? Named(string name) => All.FirstOrDefault(f => f.JsonName.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The known field a misspelt <paramref name="name"/> most likely meant (at most two edits away), or null.</summary>
    public static TenantField? Closest(string name)
    {
        var lower = name.ToLowerInvariant();
        return All.Select(f => (Field: f, Distance: EditDistance(lower, f.JsonName.ToLowerInvariant())))
            .Where(c => c.Distance <= 2 || c.Field.JsonName.StartsWith(name, StringComparison.OrdinalIgnoreCase) && name.Length >= 4)
            .OrderBy(c => c.Distance).Select(c => c.Field).FirstOrDefault();
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            previous = current;
        }
        return previous[b.Length];
    }
}

/// <summary>A field value and the place it came from, so a refusal can name the exact variable or source.</summary>
internal readonly record struct SourcedValue(string Value, string Origin);

/// <summary>One file of what <c>TENANT_CONFIG_FILE</c> names: JSON keyed by tenant id, or one setting named like its variable.</summary>
internal sealed record SettingsFile(string Path, string Text, bool IsJson);

/// <summary>What <c>TENANT_CONFIG_FILE</c> names, as read at one moment: its files in a fixed order.</summary>
internal sealed record SettingsLocation(string Path, bool IsDirectory, IReadOnlyList<SettingsFile> Files)
{
    /// <summary>Equal for equal contents, so a reload that reads what it read before changes nothing.</summary>
    public string Fingerprint { get; } = string.Join('\0', Files.Select(f => f.Path + '\0' + f.Text));
}

/// <summary>
/// Reads every tenant settings source from configuration and merges them per field, lowest precedence first:
/// <c>TENANT_CONFIG_FILE</c> (a file, or a directory of files), <c>TENANT_CONFIGS</c>, then <c>TENANT_&lt;ID&gt;_*</c>
/// variables. Pure: the caller supplies the files' text (<see cref="ReadLocation"/>) so reloads and tests control it.
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
    /// <param name="files">What <c>TENANT_CONFIG_FILE</c> names, read by <see cref="ReadLocation"/>, or <c>null</c> when it is not set.</param>
    public static TenantSettingsSnapshot Load(IConfiguration configuration, SettingsLocation? files)
    {
        var merged = new Dictionary<TenantId, Dictionary<TenantField, SourcedValue>>();
        var sources = new List<string>();

        if (files is not null)
        {
            sources.Add(TenancyKeys.FileSource(files.Path));
            // JSON files first, in name order, then the one-setting files, which override per field as variables do.
            var definedIn = new Dictionary<TenantId, string>();
            foreach (var file in files.Files.Where(f => f.IsJson))
            {
                MergeJson(merged, file.Text, TenancyKeys.FileSource(file.Path), files.IsDirectory ? definedIn : null);
            }
            foreach (var file in files.Files.Where(f => !f.IsJson))
            {
                MergeVariable(merged, Path.GetFileName(file.Path), file.Text, TenancyKeys.FileSource(file.Path));
            }
        }

        var configs = configuration[TenancyKeys.Configs];
        if (!string.IsNullOrWhiteSpace(configs))
        {
            sources.Add(TenancyKeys.Configs);
            MergeJson(merged, configs, TenancyKeys.Configs, null);
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

    /// <summary>
    /// Reads what <c>TENANT_CONFIG_FILE</c> names: one JSON file, or a directory (several Kubernetes ConfigMaps and
    /// Secrets projected into one volume, say) of <c>*.json</c> files, each an object keyed by tenant id like the single
    /// file, and files named like the individual variables (<c>TENANT_&lt;ID&gt;_&lt;FIELD&gt;</c>) holding one setting
    /// each. Entries whose names start with a dot (Kubernetes' <c>..data</c> and its timestamped directories) are skipped;
    /// anything else is refused, so a stray or misnamed file cannot be silently ignored.
    /// </summary>
    /// <exception cref="IOException">A file could not be read (the caller decides whether that is fatal).</exception>
    /// <exception cref="TenantConfigurationException">The directory holds an entry that is neither kind.</exception>
    public static SettingsLocation ReadLocation(string path)
    {
        if (!Directory.Exists(path))
        {
            return new SettingsLocation(path, false, [new SettingsFile(path, ReadFile(path), IsJson: true)]);
        }
        var files = new List<SettingsFile>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(entry);
            if (name.StartsWith('.'))
            {
                continue;
            }
            var isJson = name.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
            if (Directory.Exists(entry) || !(isJson || name.StartsWith(TenancyKeys.VariablePrefix, StringComparison.Ordinal)))
            {
                throw new TenantConfigurationException(TenancyKeys.FileSource(entry), null, null,
                    $"is neither a *.json tenant settings file nor a file named like a tenant variable ({TenancyKeys.VariablePrefix}<ID>_<FIELD>); " +
                    $"remove it from {path} or rename it.");
            }
            files.Add(new SettingsFile(entry, ReadFile(entry), isJson));
        }
        return new SettingsLocation(path, true, files);
    }

    /// <summary>Reads one file so that a writer holding it open, or replacing it, does not block us.</summary>
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
        string connectionString;
        try
        {
            connectionString = DatabaseConnectionString.FromUrl(database.Value);
        }
        catch (FormatException e)
        {
            throw new TenantConfigurationException(database.Origin, tenant.Value, TenantField.DatabaseUrl.JsonName,
                $"the database URL {e.Message}", e);
        }
        var databaseUrl = database.Value;
        if (fields.TryGetValue(TenantField.DatabasePassword, out var password))
        {
            // Kept apart from the URL where the URL is not secret (published settings) and the password is (a Secret).
            var withPassword = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
            withPassword["Password"] = password.Value;
            databaseUrl = withPassword.ConnectionString;
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
            databaseUrl,
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

    private static void MergeJson(Dictionary<TenantId, Dictionary<TenantField, SourcedValue>> merged, string json, string source, Dictionary<TenantId, string>? definedIn)
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
                if (definedIn is not null)
                {
                    // One tenant in two files of a directory is a copy left behind, not a layering.
                    if (definedIn.TryGetValue(tenant, out var other))
                    {
                        throw new TenantConfigurationException(source, key, null, $"is also defined in {other}; define each tenant in one file.");
                    }
                    definedIn.Add(tenant, source);
                }
                var fields = FieldsOf(merged, tenant);
                MergeTenantObject(fields, property.Value, source, key);
            }
        }
    }

    private static void MergeTenantObject(Dictionary<TenantField, SourcedValue> fields, JsonElement settings, string source, string tenant)
    {
        var seen = new HashSet<TenantField>();
        foreach (var property in settings.EnumerateObject())
        {
            // A misspelt field ('signingKye', 'dbUrl') would otherwise leave the tenant half configured without a word.
            var field = TenantField.Named(property.Name)
                ?? throw new TenantConfigurationException(source, tenant, property.Name,
                    "is not a tenant setting" + (TenantField.Closest(property.Name) is { } closest ? $" (did you mean '{closest.JsonName}'?)" : "") +
                    "; the settings are " + string.Join(", ", TenantField.All.Select(f => f.JsonName)) + ".");
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
            found |= TryMergeVariable(merged, name, section.Value, name);
        }
        return found;
    }

    /// <summary>A file of a settings directory named like a tenant variable: one setting, refused unless the name maps to one.</summary>
    private static void MergeVariable(Dictionary<TenantId, Dictionary<TenantField, SourcedValue>> merged, string name, string value, string source)
    {
        if (name.Any(char.IsLower) || !TryMergeVariable(merged, name, value, source))
        {
            throw Unmapped(source, $"the file name {name} names no tenant setting; use {TenancyKeys.VariablePrefix}<ID> followed by one of " +
                string.Join(", ", TenantField.All.Select(f => f.VariableSuffix)) + ".");
        }
    }

    private static bool TryMergeVariable(Dictionary<TenantId, Dictionary<TenantField, SourcedValue>> merged, string name, string value, string source)
    {
        // The suffixes are fixed and none ends another ('_BASE_URL' is not the end of '_DATABASE_URL'), so
        // stripping the one that matches leaves exactly the id's variable form, even for ids like 'tenant-a'.
        var field = TenantField.All.FirstOrDefault(f => name.EndsWith(f.VariableSuffix, StringComparison.Ordinal));
        if (field is null || name.Length <= TenancyKeys.VariablePrefix.Length + field.VariableSuffix.Length)
        {
            return false;
        }
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }
        var variableForm = name[TenancyKeys.VariablePrefix.Length..^field.VariableSuffix.Length];
        TenantId tenant;
        try
        {
            tenant = TenantId.FromVariableForm(variableForm);
        }
        catch (FormatException e)
        {
            throw new TenantConfigurationException(source, variableForm, null, e.Message, e);
        }
        FieldsOf(merged, tenant)[field] = new SourcedValue(value.Trim(), source);
        return true;
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
