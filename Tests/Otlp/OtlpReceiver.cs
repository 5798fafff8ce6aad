using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Tests.Otlp;

/// <summary>Reading received spans the way the end-to-end assertions need them.</summary>
internal static class ReceivedSpans
{
    public static string? Attribute(this SpanRecord span, string key) => span.Attributes.GetValueOrDefault(key);

    public static string Describe(this SpanRecord span) =>
        $"{span.Service} {span.Kind} '{span.Name}' [{span.Scope}] trace {span.TraceId} span {span.SpanId} parent {span.ParentSpanId ?? "-"} {{{string.Join(", ", span.Attributes.Select(a => a.Key + "=" + a.Value))}}}";
}

/// <summary>
/// A minimal OTLP/HTTP receiver (binary protobuf, gzip accepted) on 127.0.0.1 and a free port: traces, logs and metrics
/// posted to <c>/v1/*</c> are decoded from the specification's protos and kept. Thread-safe to read while receiving.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private const string Protobuf = "application/x-protobuf";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SpanRecord> _spans = new();
    private readonly ConcurrentQueue<LogRecordEntry> _logs = new();
    private readonly ConcurrentQueue<MetricPoint> _metrics = new();
    private long _logSequence;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base endpoint for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (the exporter appends <c>/v1/traces</c>).</summary>
    public Uri Endpoint { get; private set; } = null!;

    public IReadOnlyList<SpanRecord> Spans => [.. _spans];

    public IReadOnlyList<LogRecordEntry> Logs => [.. _logs];

    public IReadOnlyList<MetricPoint> Metrics => [.. _metrics];

    public static async Task<OtlpReceiver> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", (HttpRequest request) => ReceiveAsync(request, ExportTraceServiceRequest.Parser,
            export => Enqueue(receiver._spans, OtlpDecoder.Spans(export)), new ExportTraceServiceResponse()));
        app.MapPost("/v1/logs", (HttpRequest request) => ReceiveAsync(request, ExportLogsServiceRequest.Parser,
            export => Enqueue(receiver._logs, OtlpDecoder.Logs(export, () => Interlocked.Increment(ref receiver._logSequence))), new ExportLogsServiceResponse()));
        app.MapPost("/v1/metrics", (HttpRequest request) => ReceiveAsync(request, ExportMetricsServiceRequest.Parser,
            export => Enqueue(receiver._metrics, OtlpDecoder.Metrics(export)), new ExportMetricsServiceResponse()));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static async Task<IResult> ReceiveAsync<T>(HttpRequest request, MessageParser<T> parser, Action<T> keep, IMessage response) where T : IMessage<T>
    {
        using var body = new MemoryStream();
        await using (var source = request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(request.Body, CompressionMode.Decompress)
            : request.Body)
        {
            await source.CopyToAsync(body, request.HttpContext.RequestAborted);
        }
        keep(parser.ParseFrom(body.ToArray()));
        return Results.Bytes(response.ToByteArray(), Protobuf);
    }

    private static void Enqueue<T>(ConcurrentQueue<T> queue, IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            queue.Enqueue(item);
        }
    }
}
