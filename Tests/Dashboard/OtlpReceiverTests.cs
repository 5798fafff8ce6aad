using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using Dashboard.Telemetry;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Tests.Dashboard;

/// <summary>The receiver, fed by the OpenTelemetry .NET SDK's own OTLP exporter over HTTP/protobuf.</summary>
public sealed class OtlpReceiverTests
{
    private static OtlpExporterOptions Exporter(OtlpExporterOptions options, Uri endpoint, string apiKey)
    {
        options.Endpoint = endpoint;
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Headers = "x-otlp-api-key=" + apiKey;
        return options;
    }

    private static ResourceBuilder Service(string name) => ResourceBuilder.CreateEmpty().AddService(name);

    [Fact]
    public async Task Spans_exported_by_the_sdk_arrive_with_parent_status_and_attributes()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var source = new ActivitySource("receiver-test-" + Guid.NewGuid());
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(Service("web-tenant-a"))
            .AddSource(source.Name)
            .AddOtlpExporter(o => Exporter(o, dashboard.Url("/v1/traces"), DashboardHost.ApiKey))
            .Build())
        {
            using (var parent = source.StartActivity("POST /runs", ActivityKind.Server))
            {
                parent!.SetTag("tenant.id", "tenant-a");
                using var child = source.StartActivity("send notifications", ActivityKind.Producer);
                child!.SetStatus(ActivityStatusCode.Error, "queue down");
            }
            Assert.True(tracing.ForceFlush(10_000));
        }

        var spans = dashboard.Store.Spans.Snapshot();
        var parentSpan = Assert.Single(spans, s => s.Name == "POST /runs");
        var childSpan = Assert.Single(spans, s => s.Name == "send notifications");
        Assert.Equal("web-tenant-a", parentSpan.Service);
        Assert.Equal("tenant-a", parentSpan.Tenant);
        Assert.Equal(parentSpan.TraceId, childSpan.TraceId);
        Assert.Equal(parentSpan.SpanId, childSpan.ParentSpanId);
        Assert.Equal("error", childSpan.Status);
        Assert.Equal("queue down", childSpan.StatusMessage);
        Assert.True(parentSpan.EndNs >= parentSpan.StartNs);
    }

    [Fact]
    public async Task Logs_exported_by_the_sdk_arrive_with_level_message_scope_attributes_and_trace()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var source = new ActivitySource("receiver-test-" + Guid.NewGuid());
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        string traceId;
        using (var logging = LoggerFactory.Create(builder => builder.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(Service("workers"));
            o.IncludeScopes = true;
            o.IncludeFormattedMessage = true;
            o.AddOtlpExporter(e => Exporter(e, dashboard.Url("/v1/logs"), DashboardHost.ApiKey));
        })))
        {
            var logger = logging.CreateLogger("Queue.Processor");
            using var activity = source.StartActivity("process notifications")!;
            traceId = activity.TraceId.ToHexString();
            using (logger.BeginScope(new Dictionary<string, object> { ["tenant.id"] = "tenant-b" }))
            {
#pragma warning disable CA1848 // a test writes one log the way any service would
                logger.LogError("Processing {Queue} job {JobId} failed", "notifications", "42");
#pragma warning restore CA1848
            }
        }

        var log = Assert.Single(dashboard.Store.Logs.Snapshot());
        Assert.Equal("workers", log.Service);
        Assert.Equal("Queue.Processor", log.Category);
        Assert.Equal("Error", log.Level);
        Assert.Equal("Processing notifications job 42 failed", log.Message);
        Assert.Equal("notifications", log.Attributes["Queue"]);
        Assert.Equal("tenant-b", log.Attributes["tenant.id"]);
        Assert.Equal(traceId, log.TraceId);
    }

    [Fact]
    public async Task Metrics_exported_by_the_sdk_arrive_as_cumulative_sums_gauges_and_histograms()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var meter = new Meter("receiver-test-" + Guid.NewGuid());
        var completed = meter.CreateCounter<long>("queue.jobs.completed");
        var waitTime = meter.CreateHistogram<double>("queue.job.wait_time", "s");
        meter.CreateObservableGauge("queue.jobs.waiting", () => new Measurement<long>(7, new("tenant.id", "tenant-a"), new("messaging.destination.name", "emails")));
        using (var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(Service("workers"))
            .AddMeter(meter.Name)
            .AddOtlpExporter((o, _) => Exporter(o, dashboard.Url("/v1/metrics"), DashboardHost.ApiKey))
            .Build())
        {
            completed.Add(3, new("tenant.id", "tenant-a"), new("messaging.destination.name", "emails"));
            waitTime.Record(0.5, new KeyValuePair<string, object?>("tenant.id", "tenant-a"));
            waitTime.Record(1.5, new KeyValuePair<string, object?>("tenant.id", "tenant-a"));
            Assert.True(metrics.ForceFlush(10_000));
        }

        // Flushing and disposing each export the cumulative state, so every series arrives (at least) twice.
        var points = dashboard.Store.Metrics.Snapshot();
        var sum = points.Last(p => p.Name == "queue.jobs.completed");
        Assert.Equal(MetricKind.Sum, sum.Kind);
        Assert.True(sum.Cumulative);
        Assert.Equal(3, sum.Value);
        Assert.Equal("emails", sum.Attributes["messaging.destination.name"]);
        var histogram = points.Last(p => p.Name == "queue.job.wait_time");
        Assert.Equal(MetricKind.Histogram, histogram.Kind);
        Assert.Equal(2UL, histogram.Count);
        Assert.Equal(2.0, histogram.Value);
        var gauge = points.Last(p => p.Name == "queue.jobs.waiting");
        Assert.Equal(MetricKind.Gauge, gauge.Kind);
        Assert.Equal(7, gauge.Value);
    }

    [Fact]
    public async Task Traces_logs_and_metrics_exported_over_grpc_arrive_and_a_wrong_key_is_refused()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var source = new ActivitySource("receiver-test-" + Guid.NewGuid());
        using var meter = new Meter("receiver-test-" + Guid.NewGuid());
        var completed = meter.CreateCounter<long>("queue.jobs.completed");
        OtlpExporterOptions Grpc(OtlpExporterOptions o, string apiKey)
        {
            o.Endpoint = dashboard.GrpcAddress;
            o.Protocol = OtlpExportProtocol.Grpc;
            o.Headers = "x-otlp-api-key=" + apiKey;
            return o;
        }
        using (var tracing = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(Service("scheduler")).AddSource(source.Name).AddOtlpExporter(o => Grpc(o, DashboardHost.ApiKey)).Build())
        using (var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(Service("scheduler")).AddMeter(meter.Name).AddOtlpExporter((o, _) => Grpc(o, DashboardHost.ApiKey)).Build())
        using (var logging = LoggerFactory.Create(b => b.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(Service("scheduler"));
            o.AddOtlpExporter(e => Grpc(e, DashboardHost.ApiKey));
        })))
        {
            source.StartActivity("reconcile recurring jobs")!.Dispose();
            completed.Add(1, new KeyValuePair<string, object?>("tenant.id", "tenant-c"));
#pragma warning disable CA1848 // one log line, as any service writes it
            logging.CreateLogger("Scheduler").LogInformation("Reconciled {Count} recurring jobs", 6);
#pragma warning restore CA1848
            Assert.True(tracing.ForceFlush(10_000));
            Assert.True(metrics.ForceFlush(10_000));
        }
        using (var refused = Sdk.CreateTracerProviderBuilder().AddSource(source.Name).AddOtlpExporter(o => Grpc(o, "wrong-key")).Build())
        {
            source.StartActivity("refused")!.Dispose();
            refused.ForceFlush(10_000);
        }

        var span = Assert.Single(dashboard.Store.Spans.Snapshot());
        Assert.Equal(("scheduler", "reconcile recurring jobs"), (span.Service, span.Name));
        Assert.Equal("Reconciled 6 recurring jobs", Assert.Single(dashboard.Store.Logs.Snapshot()).Message);
        Assert.Equal("tenant-c", dashboard.Store.Metrics.Snapshot().Last(p => p.Name == "queue.jobs.completed").Attributes["tenant.id"]);
    }

    [Fact]
    public async Task An_export_with_a_wrong_api_key_is_refused_and_nothing_is_stored()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var source = new ActivitySource("receiver-test-" + Guid.NewGuid());
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(source.Name)
            .AddOtlpExporter(o => Exporter(o, dashboard.Url("/v1/traces"), "wrong-key"))
            .Build())
        {
            source.StartActivity("refused")!.Dispose();
            tracing.ForceFlush(10_000);
        }

        using var http = new HttpClient();
        using var anonymous = new ByteArrayContent([]);
        anonymous.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        var response = await http.PostAsync(dashboard.Url("/v1/logs"), anonymous, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(dashboard.Store.Spans.Snapshot());
    }

    [Fact]
    public async Task Json_encoded_otlp_is_answered_415()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var http = new HttpClient();
        using var json = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        json.Headers.Add("x-otlp-api-key", DashboardHost.ApiKey);

        var response = await http.PostAsync(dashboard.Url("/v1/traces"), json, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Past_the_cap_the_oldest_spans_are_dropped_and_counted()
    {
        await using var dashboard = await DashboardHost.StartAsync(new Dictionary<string, string?> { ["Dashboard:MaxSpans"] = "100" });
        using var source = new ActivitySource("receiver-test-" + Guid.NewGuid());
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(source.Name)
            .AddOtlpExporter(o => Exporter(o, dashboard.Url("/v1/traces"), DashboardHost.ApiKey))
            .Build())
        {
            for (var i = 0; i < 150; i++)
            {
                source.StartActivity("span " + i)!.Dispose();
            }
            Assert.True(tracing.ForceFlush(10_000));
        }

        var spans = dashboard.Store.Spans.Snapshot();
        Assert.Equal(100, spans.Count);
        Assert.Equal(50, dashboard.Store.Spans.Dropped);
        Assert.Equal("span 50", spans[0].Name);
        Assert.Equal("span 149", spans[^1].Name);
    }
}
