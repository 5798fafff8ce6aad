using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Aspire's service defaults, without the Aspire packages: OpenTelemetry, health checks,
/// service discovery and HttpClient resilience, wired the way the Aspire template does.
/// </summary>
public static class ServiceDefaultsExtensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";
    private const string LiveTag = "live";

    /// <summary>Read by autoscalers every few seconds (the workers' backlog), like a probe: not traced either.</summary>
    private const string MetricsPath = "/metrics";

    /// <summary>Service defaults for web apps: everything in <see cref="AddBasicServiceDefaults{TBuilder}"/> plus service discovery and resilient HttpClients.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddBasicServiceDefaults();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>Service defaults for workers and the scheduler: telemetry and health checks.</summary>
    public static TBuilder AddBasicServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddQuietLogging();
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            logging.AddProcessor(new TenantLogProcessor());
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddMeter(QueueTelemetryNames.Meter))
            .WithTracing(tracing => tracing
                .AddProcessor(new TenantActivityProcessor())
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(QueueTelemetryNames.ActivitySource)
                .AddNpgsql()
                .AddAspNetCoreInstrumentation(options =>
                    // Health probes every few seconds, and a page's stylesheet and scripts, would drown the traces that matter.
                    options.Filter = context => !IsProbe(context.Request.Path) && !IsStaticFile(context.Request))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    private static readonly HashSet<string> StaticFileExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".css", ".js", ".mjs", ".map", ".ico", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".woff", ".woff2", ".ttf",
    };

    /// <summary>A request for a stylesheet, script, image or font: the API and the pages have no file extensions.</summary>
    private static bool IsStaticFile(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && StaticFileExtensions.Contains(Path.GetExtension(request.Path.Value ?? ""));

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath, StringComparison.Ordinal) || path.StartsWithSegments(AlivenessEndpointPath, StringComparison.Ordinal)
        || path.StartsWithSegments(MetricsPath, StringComparison.Ordinal);

    /// <summary>
    /// Maps <c>/health</c> (ready: every check passes) and <c>/alive</c> (liveness: only checks tagged "live").
    /// Both are mapped in every environment: workers and the scheduler are probed by Kubernetes too.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Nor is a probe's own work traced (a database's SELECT 1): with its request span filtered out it would show as
        // a root trace of its own on every probe (the AppHost probes each healthy resource every 30 s).
        app.Use(async (context, next) =>
        {
            if (!IsProbe(context.Request.Path))
            {
                await next(context);
                return;
            }
            using (SuppressInstrumentationScope.Begin())
            {
                await next(context);
            }
        });
        // Probes come from orchestrators, never signed in: the endpoints stay open whatever the app's fallback policy.
        app.MapHealthChecks(HealthEndpointPath).AllowAnonymous();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(LiveTag),
        }).AllowAnonymous();
        return app;
    }
}
