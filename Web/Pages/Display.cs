using System.Globalization;
using System.Text.Json;

namespace Web.Pages;

/// <summary>How the pages print times, durations and job progress.</summary>
internal static class Display
{
    public static string Time(DateTimeOffset? value) =>
        value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Duration(long? milliseconds) => milliseconds switch
    {
        null => "—",
        < 1000 => $"{milliseconds} ms",
        < 60_000 => (milliseconds.Value / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + " s",
        _ => TimeSpan.FromMilliseconds(milliseconds.Value).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// A job's progress as a percentage: handlers report a number (percent), or an object with <c>percent</c>,
    /// or with <c>processed</c> and <c>total</c>. Null when it says nothing measurable.
    /// </summary>
    public static int? Percent(string? progressJson)
    {
        if (string.IsNullOrWhiteSpace(progressJson))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(progressJson);
            var root = document.RootElement;
            double? value = root.ValueKind switch
            {
                JsonValueKind.Number => root.GetDouble(),
                JsonValueKind.Object when root.TryGetProperty("percent", out var p) && p.ValueKind == JsonValueKind.Number => p.GetDouble(),
                JsonValueKind.Object when root.TryGetProperty("processed", out var done) && root.TryGetProperty("total", out var total)
                    && done.ValueKind == JsonValueKind.Number && total.ValueKind == JsonValueKind.Number && total.GetDouble() > 0
                    => 100 * done.GetDouble() / total.GetDouble(),
                _ => null,
            };
            return value is { } v ? (int)Math.Clamp(Math.Round(v), 0, 100) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Indented JSON for reading; the text as is when it is not JSON.</summary>
    public static string PrettyJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return "";
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(document.RootElement, Indented);
        }
        catch (JsonException)
        {
            return json;
        }
    }

    /// <summary>
    /// <paramref name="url"/> when it may be a link's target: a path of this site, or an http(s) address elsewhere (an
    /// issue in its tracker); null for anything else (<c>javascript:</c>, <c>data:</c>, <c>//host</c>), shown as text.
    /// </summary>
    public static string? WebLink(string? url) =>
        string.IsNullOrEmpty(url) ? null
        : url[0] == '/' ? (url.Length > 1 && url[1] is '/' or '\\' ? null : url)
        : Uri.TryCreate(url, UriKind.Absolute, out var absolute) && absolute.Scheme is "https" or "http" ? absolute.AbsoluteUri
        : null;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
