using Dashboard.Resources;
using Dashboard.Telemetry;
using Dashboard.Tenants;
using Microsoft.AspNetCore.Mvc;

namespace Dashboard.Ui;

/// <summary>The JSON the pages poll: everything under <c>/api</c>, behind the login. Times are ISO 8601 (UTC).</summary>
internal static class DashboardApi
{
    public static void MapDashboardApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api");
        api.MapGet("stats", (TelemetryStore store) => Results.Ok(store.Stats()));
        api.MapGet("services", Services);
        api.MapGet("logs", Logs);
        api.MapGet("traces", Traces);
        api.MapGet("traces/{traceId}", Trace);
        api.MapGet("tenants", AllTenants);
        api.MapGet("tenants/{tenant}", OneTenant);
        api.MapGet("metrics", (TelemetryStore store) => Results.Ok(MetricQueries.Names(store.Metrics.Snapshot())));
        api.MapGet("metrics/chart", Chart);
        api.MapGet("resources", ResourcesAsync);
        api.MapGet("resources/{name}/console", (ResourceClient client, string name, CancellationToken ct) => ForwardAsync(client, $"resources/{Uri.EscapeDataString(name)}/console", post: false, ct));
        api.MapPost("resources/{name}/actions/{action}", (ResourceClient client, string name, string action, CancellationToken ct) =>
            ForwardAsync(client, $"resources/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(action)}", post: true, ct));
    }

    private static async Task<IResult> ResourcesAsync(ResourceClient client, CancellationToken cancellationToken)
    {
        if (!client.IsConfigured)
        {
            return Results.Ok(new { error = "No AppHost resource API is configured (Dashboard:ResourceServiceUrl): the Dashboard was started on its own." });
        }
        var (status, json) = await client.GetAsync("resources", cancellationToken);
        return status == StatusCodes.Status200OK
            ? Results.Text(json, "application/json")
            : Results.Ok(new { error = $"The AppHost answered {status}: {json}" });
    }

    private static async Task<IResult> ForwardAsync(ResourceClient client, string path, bool post, CancellationToken cancellationToken)
    {
        if (!client.IsConfigured)
        {
            return Results.NotFound();
        }
        var (status, body) = post ? await client.PostAsync(path, cancellationToken) : await client.GetAsync(path, cancellationToken);
        return Results.Text(body, status == StatusCodes.Status200OK ? "application/json" : "text/plain", statusCode: status);
    }

    internal static DateTimeOffset Time(ulong unixNs) => DateTimeOffset.FromUnixTimeMilliseconds((long)(unixNs / 1_000_000));

    private static ulong NowNs(TimeProvider time) => (ulong)time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000UL;

    private static TelemetryFilter Filter(string? resource, string? text, string[]? attr, string? tenant) =>
        new(resource, text, [.. (attr ?? []).Where(a => !string.IsNullOrWhiteSpace(a)).Select(a => a.Trim())], tenant);

    private static IResult Services(TelemetryStore store) => Results.Ok(
        store.Spans.Snapshot().Select(s => s.Service)
            .Concat(store.Logs.Snapshot().Select(l => l.Service))
            .Concat(store.Metrics.Snapshot().Select(m => m.Service))
            .Distinct().Order(StringComparer.Ordinal).ToList());

    private static IResult Logs(TelemetryStore store, string? resource, string? level, string? text, [FromQuery] string[]? attr,
        string? tenant, string? traceId, int? limit)
    {
        var logs = LogQueries.Find(store.Logs.Snapshot(), Filter(resource, text, attr, tenant), level, traceId, Math.Clamp(limit ?? 500, 1, 5000));
        return Results.Ok(logs.Select(l => new
        {
            l.Sequence,
            time = Time(l.TimeNs),
            l.Service,
            l.Category,
            l.Level,
            l.Message,
            l.TraceId,
            l.SpanId,
            l.Attributes,
        }));
    }

    private static IResult Traces(TelemetryStore store, string? resource, string? text, [FromQuery] string[]? attr, string? tenant, bool? errors, int? limit)
    {
        var traces = TraceQueries.Find(store.Spans.Snapshot(), Filter(resource, text, attr, tenant), errors == true, Math.Clamp(limit ?? 200, 1, 2000));
        return Results.Ok(traces.Select(t => new
        {
            t.TraceId,
            t.Name,
            t.RootService,
            start = Time(t.StartNs),
            t.DurationMs,
            t.SpanCount,
            t.ErrorCount,
            t.Services,
            t.Tenants,
        }));
    }

    private static IResult Trace(TelemetryStore store, string traceId)
    {
        var spans = TraceQueries.Waterfall(store.Spans.Snapshot(), traceId);
        if (spans.Count == 0)
        {
            return TypedResults.NotFound();
        }
        var summary = TraceQueries.Summarize(spans.Select(s => s.Span));
        return Results.Ok(new
        {
            summary.TraceId,
            summary.Name,
            start = Time(summary.StartNs),
            summary.DurationMs,
            summary.Services,
            summary.Tenants,
            spans = spans.Select(w => new
            {
                w.Span.SpanId,
                w.Span.ParentSpanId,
                w.Span.Service,
                w.Span.Name,
                w.Span.Kind,
                w.Depth,
                w.OffsetMs,
                w.Span.DurationMs,
                w.Span.Status,
                w.Span.StatusMessage,
                w.Span.Attributes,
            }),
        });
    }

    private static async Task<IResult> AllTenants(TelemetryStore store, TimeProvider time, ResourceClient resources, int? minutes, CancellationToken cancellationToken) =>
        Results.Ok(TenantOverview.All(store, NowNs(time), Math.Clamp(minutes ?? 5, 1, 120), await resources.DeclaredTenantsAsync(cancellationToken)).Select(Figures));

    private static IResult OneTenant(TelemetryStore store, TimeProvider time, string tenant, int? minutes)
    {
        var figures = TenantOverview.All(store, NowNs(time), Math.Clamp(minutes ?? 5, 1, 120)).FirstOrDefault(t => t.Tenant == tenant)
            ?? new TenantOverview.TenantFigures(tenant, [], 0, 0);
        return Results.Ok(new
        {
            figures = Figures(figures),
            failures = TenantOverview.RecentFailures(store, tenant, 50).Select(f => new
            {
                time = Time(f.TimeNs),
                f.Service,
                f.Name,
                f.Queue,
                f.Job,
                f.JobId,
                f.Message,
                f.TraceId,
                f.SpanId,
            }),
        });
    }

    private static object Figures(TenantOverview.TenantFigures t) => new
    {
        t.Tenant,
        t.Waiting,
        t.Completed,
        t.Failed,
        t.ThroughputPerMinute,
        t.FailureRate,
        t.SpanCount,
        t.ErrorSpanCount,
        t.Queues,
    };

    private static IResult Chart(TelemetryStore store, TimeProvider time, string name, string? groupBy, string? tenant, int? minutes, int? bucket)
    {
        var points = store.Metrics.Snapshot();
        if (tenant is { Length: > 0 })
        {
            points = [.. points.Where(p => p.Attributes.GetValueOrDefault(TenantOverview.TenantKey) == tenant)];
        }
        var chart = MetricQueries.Buckets(points, name, groupBy is { Length: > 0 } ? groupBy : TenantOverview.TenantKey,
            NowNs(time), Math.Clamp(minutes ?? 5, 1, 120), Math.Clamp(bucket ?? 10, 1, 600));
        return Results.Ok(new
        {
            chart.Name,
            chart.Unit,
            chart.Measure,
            start = Time(chart.StartNs),
            chart.BucketSeconds,
            chart.Series,
        });
    }
}
