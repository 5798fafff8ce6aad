using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Tenancy;

/// <summary>
/// A tenant's identifier: <c>^[a-z0-9]+(-[a-z0-9]+)*$</c>, 2 to 40 characters.
/// The rule makes the mapping to environment-variable form (<c>tenant-a</c> &lt;-&gt; <c>TENANT_A</c>)
/// exact in both directions. A default <see cref="TenantId"/> is not a valid tenant.
/// </summary>
public readonly partial record struct TenantId : IParsable<TenantId>
{
    public const int MinLength = 2;
    public const int MaxLength = 40;

    private TenantId(string value) => Value = value;

    /// <summary>The canonical id, for example <c>tenant-a</c>.</summary>
    public string Value { get; }

    /// <summary>The id as it appears inside variable names: <c>tenant-a</c> becomes <c>TENANT_A</c>.</summary>
    public string VariableForm => Value?.Replace('-', '_').ToUpperInvariant() ?? string.Empty;

    public static TenantId Parse(string value) =>
        TryParse(value, out var id, out var error) ? id : throw new FormatException(error);

    static TenantId IParsable<TenantId>.Parse(string s, IFormatProvider? provider) => Parse(s);

    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out TenantId result) =>
        TryParse(s, out result, out _);

    public static bool TryParse([NotNullWhen(true)] string? value, out TenantId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (value is null)
        {
            error = "Tenant id is missing.";
            return false;
        }
        if (value.Length is < MinLength or > MaxLength || !Rule().IsMatch(value))
        {
            error = $"Invalid tenant id '{value}': a tenant id is {MinLength} to {MaxLength} characters of lower-case letters and digits in groups joined by single hyphens (^[a-z0-9]+(-[a-z0-9]+)*$).";
            return false;
        }
        id = new TenantId(value);
        error = null;
        return true;
    }

    /// <summary>Reverses <see cref="VariableForm"/>: <c>TENANT_A</c> becomes <c>tenant-a</c>.</summary>
    public static TenantId FromVariableForm(string variableForm)
    {
        ArgumentNullException.ThrowIfNull(variableForm);
        if (variableForm.Length > 0 && !VariableRule().IsMatch(variableForm))
        {
            throw new FormatException($"Invalid tenant id in variable name '{variableForm}': expected upper-case letters and digits in groups joined by single underscores.");
        }
        // Name the variable form in the error: that is what the operator wrote, not the id derived from it.
        return TryParse(variableForm.Replace('_', '-').ToLowerInvariant(), out var id, out var error)
            ? id
            : throw new FormatException($"Invalid tenant id in variable name '{variableForm}': {error}");
    }

    public override string ToString() => Value ?? string.Empty;

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Rule();

    [GeneratedRegex("^[A-Z0-9]+(_[A-Z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex VariableRule();
}
