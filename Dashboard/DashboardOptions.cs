using System.ComponentModel.DataAnnotations;

namespace Dashboard;

/// <summary>The Dashboard's settings, section <c>Dashboard</c> (environment: <c>Dashboard__OtlpApiKey</c> ...).</summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>
    /// Required in the <c>x-otlp-api-key</c> header of every OTLP export. Without one the receiver accepts
    /// anonymous exports only when <see cref="Unsecured"/> is set.
    /// </summary>
    public string? OtlpApiKey { get; set; }

    /// <summary>The browser token: <c>/login?t=&lt;token&gt;</c> signs in. Without one the UI is closed unless <see cref="Unsecured"/>.</summary>
    public string? LoginToken { get; set; }

    /// <summary>Explicit opt-out: no login and no OTLP API key (a local run on a trusted machine).</summary>
    public bool Unsecured { get; set; }

    /// <summary>The AppHost's resource API (loopback), for resource states, console output and actions.</summary>
    public Uri? ResourceServiceUrl { get; set; }

    /// <summary>Bearer key for the AppHost's resource API.</summary>
    public string? ResourceServiceApiKey { get; set; }

    [Range(100, 10_000_000)]
    public int MaxSpans { get; set; } = 50_000;

    [Range(100, 10_000_000)]
    public int MaxLogs { get; set; } = 50_000;

    [Range(100, 10_000_000)]
    public int MaxMetricPoints { get; set; } = 200_000;
}
