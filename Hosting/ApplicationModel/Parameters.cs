using System.Security.Cryptography;
using System.Text.Json;

namespace Hosting;

/// <summary>
/// A value supplied from outside the model (<c>parameter.v0</c>): configuration <c>Parameters:&lt;name&gt;</c>
/// (or <c>Parameters__&lt;name&gt;</c>) wins; otherwise a generated value, created once and kept in the
/// AppHost's state directory so it survives restarts; otherwise the default.
/// </summary>
public sealed class ParameterResource : IResource, IValueExpression
{
    private string? _value;

    internal ParameterResource(string name, bool secret, string? defaultValue, int? generateLength)
    {
        Name = name;
        IsSecret = secret;
        DefaultValue = defaultValue;
        GenerateLength = generateLength;
    }

    public string Name { get; }

    public bool IsSecret { get; }

    public string? DefaultValue { get; }

    /// <summary>When set, a missing value is generated with this many letters and digits.</summary>
    public int? GenerateLength { get; }

    /// <summary>The resolved value (resolved when the application is built).</summary>
    public string Value => _value ?? throw new InvalidOperationException($"Parameter '{Name}' has not been resolved yet.");

    public string Render(ValueTarget target) => target == ValueTarget.Manifest ? $"{{{Name}.value}}" : Value;

    internal void Resolve(string value) => _value = value;
}

/// <summary>Generated parameter values persisted in <c>&lt;state&gt;/parameters.json</c>.</summary>
internal sealed class ParameterStore(string stateDirectory)
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private string FilePath => Path.Combine(stateDirectory, "parameters.json");

    public void ResolveAll(IEnumerable<ParameterResource> parameters, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var stored = Load();
        var changed = false;
        foreach (var parameter in parameters)
        {
            var configured = configuration[$"Parameters:{parameter.Name}"];
            if (configured is not null)
            {
                parameter.Resolve(configured);
            }
            else if (parameter.GenerateLength is { } length)
            {
                if (!stored.TryGetValue(parameter.Name, out var value))
                {
                    // Letters and digits only: safe unescaped in URLs, JSON and connection strings.
                    value = RandomNumberGenerator.GetString(Alphabet, length);
                    stored[parameter.Name] = value;
                    changed = true;
                }
                parameter.Resolve(value);
            }
            else if (parameter.DefaultValue is not null)
            {
                parameter.Resolve(parameter.DefaultValue);
            }
            else
            {
                throw new InvalidOperationException($"Parameter '{parameter.Name}' has no value: set Parameters__{parameter.Name} in the environment or Parameters:{parameter.Name} in configuration.");
            }
        }
        if (changed)
        {
            Save(stored);
        }
    }

    internal Dictionary<string, string> Load() =>
        File.Exists(FilePath)
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(FilePath)) ?? []
            : [];

    private void Save(Dictionary<string, string> values)
    {
        Directory.CreateDirectory(stateDirectory);
        var temporary = FilePath + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(new SortedDictionary<string, string>(values, StringComparer.Ordinal), JsonOptions.Indented));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(temporary, FilePath, overwrite: true);
    }
}

internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
