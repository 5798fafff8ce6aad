using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Tests.Dashboard;

/// <summary>
/// What a worker exports, through the OpenTelemetry SDK's OTLP/HTTP exporter: the Queue meter's instruments for
/// tenant-a and tenant-b, one failed <c>send-email</c> job of tenant-a (a web request's trace ending in a failed
/// consumer span), and one log line per tenant.
/// </summary>
internal static class SampleTelemetry
{
    public const string FailureMessage = "SMTP refused";
    public const string TenantALog = "Processing emails job 7 of type send-email for tenant tenant-a";
    public const string TenantBLog = "Processing emails job 8 of type send-email for tenant tenant-b";

    /// <summary>Returns the trace id of tenant-a's failed job.</summary>
    public static string Export(Uri dashboard, string apiKey, string service = "workers")
    {
        using var meter = new Meter("sample-" + Guid.NewGuid());
        using var source = new ActivitySource("sample-" + Guid.NewGuid());
        var completed = meter.CreateCounter<long>("queue.jobs.completed");
        var failed = meter.CreateCounter<long>("queue.jobs.failed");
        var waitTime = meter.CreateHistogram<double>("queue.job.wait_time", "s");
        meter.CreateObservableGauge("queue.jobs.waiting", () => new Measurement<long>(4, new("messaging.destination.name", "emails"), new("tenant.id", "tenant-a")));
        meter.CreateObservableGauge("queue.jobs", () => new[] { ("waiting", 4L), ("active", 2L), ("delayed", 5L), ("completed", 3L), ("failed", 1L) }
            .Select(d => new Measurement<long>(d.Item2, new("messaging.destination.name", "emails"), new("tenant.id", "tenant-a"), new("queue.job.state", d.Item1))));
        KeyValuePair<string, object?>[] Tags(string tenant) => [new("messaging.destination.name", "emails"), new("tenant.id", tenant)];
        void Configure(OtlpExporterOptions o, string signal)
        {
            o.Endpoint = new Uri(dashboard, "/v1/" + signal);
            o.Protocol = OtlpExportProtocol.HttpProtobuf;
            o.Headers = "x-otlp-api-key=" + apiKey;
        }
        var resource = ResourceBuilder.CreateEmpty().AddService(service);
        string failedTrace;
        using (var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(meter.Name).AddOtlpExporter((o, _) => Configure(o, "metrics")).Build())
        using (var tracing = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(source.Name).AddOtlpExporter(o => Configure(o, "traces")).Build())
        using (var logging = LoggerFactory.Create(b => b.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(resource);
            o.IncludeScopes = true;
            o.IncludeFormattedMessage = true;
            o.AddOtlpExporter(e => Configure(e, "logs"));
        })))
        {
            completed.Add(3, Tags("tenant-a"));
            failed.Add(1, Tags("tenant-a"));
            completed.Add(2, Tags("tenant-b"));
            foreach (var wait in new[] { 0.5, 1.5, 0.5, 1.5 })
            {
                waitTime.Record(wait, Tags("tenant-a"));
            }
            var logger = logging.CreateLogger("Queue.Server");
            using (var request = source.StartActivity("POST /api/runs", ActivityKind.Server)!)
            {
                request.SetTag("tenant.id", "tenant-a");
                failedTrace = request.TraceId.ToHexString();
                using var process = source.StartActivity("process emails", ActivityKind.Consumer)!;
                process.SetTag("tenant.id", "tenant-a");
                process.SetTag("messaging.destination.name", "emails");
                process.SetTag("messaging.message.id", "7");
                process.SetTag("job.name", "send-email");
                using (logger.BeginScope(new Dictionary<string, object> { ["tenant.id"] = "tenant-a" }))
                {
                    Log(logger, LogLevel.Error, TenantALog);
                }
                process.SetStatus(ActivityStatusCode.Error, FailureMessage);
            }
            using (var other = source.StartActivity("process emails", ActivityKind.Consumer)!)
            {
                other.SetTag("tenant.id", "tenant-b");
                using (logger.BeginScope(new Dictionary<string, object> { ["tenant.id"] = "tenant-b" }))
                {
                    Log(logger, LogLevel.Information, TenantBLog);
                }
            }
            Assert.True(metrics.ForceFlush(10_000));
            Assert.True(tracing.ForceFlush(10_000));
        }
        return failedTrace;
    }

#pragma warning disable CA1848, CA2254 // sample lines written the way any service would, message given by the caller
    private static void Log(ILogger logger, LogLevel level, string message) => logger.Log(level, message);
#pragma warning restore CA1848, CA2254
}
