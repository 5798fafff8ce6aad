using Microsoft.Extensions.Configuration;

namespace Hosting.Orchestration;

/// <summary>
/// Aspire's run-mode OTLP wiring: when the AppHost's configuration (environment or command line, so a test can set
/// it on the testing builder without touching the process environment) names <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>,
/// every project is started exporting there, with short batch delays so a local run (or a test) sees its telemetry
/// within a second or so. Without an endpoint in the configuration, projects export to the Dashboard when the
/// AppHost has one (OTLP/HTTP protobuf, its API key in <c>OTEL_EXPORTER_OTLP_HEADERS</c>); otherwise nowhere.
/// </summary>
internal static class OtlpExport
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The header the Dashboard's OTLP receiver checks.</summary>
    public const string DashboardApiKeyHeader = "x-otlp-api-key";

    // Aspire's local-run defaults; each can be overridden through the AppHost's configuration.
    private static readonly KeyValuePair<string, string?>[] Defaults =
    [
        new("OTEL_EXPORTER_OTLP_PROTOCOL", null),
        new("OTEL_EXPORTER_OTLP_HEADERS", null),
        new("OTEL_BSP_SCHEDULE_DELAY", "1000"),
        new("OTEL_BLRP_SCHEDULE_DELAY", "1000"),
        new("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
    ];

    /// <summary>The variables to give every project, empty when no endpoint is configured.</summary>
    public static IReadOnlyDictionary<string, string> Environment(IConfiguration configuration) => Environment(configuration, null, null);

    /// <summary>As above, falling back to the Dashboard's OTLP endpoint and API key when the configuration names no endpoint.</summary>
    public static IReadOnlyDictionary<string, string> Environment(IConfiguration configuration, string? dashboardEndpoint, string? dashboardApiKey)
    {
        var endpoint = configuration[EndpointKey];
        var toDashboard = string.IsNullOrWhiteSpace(endpoint) && !string.IsNullOrWhiteSpace(dashboardEndpoint);
        if (toDashboard)
        {
            endpoint = dashboardEndpoint;
        }
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return new Dictionary<string, string>();
        }
        var environment = new Dictionary<string, string> { [EndpointKey] = endpoint };
        if (toDashboard)
        {
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            environment["OTEL_EXPORTER_OTLP_HEADERS"] = DashboardApiKeyHeader + "=" + dashboardApiKey;
        }
        foreach (var (key, fallback) in Defaults)
        {
            if (toDashboard && environment.ContainsKey(key) && configuration[key] is null)
            {
                continue;
            }
            if ((configuration[key] ?? fallback) is { Length: > 0 } value)
            {
                environment[key] = value;
            }
        }
        return environment;
    }
}
