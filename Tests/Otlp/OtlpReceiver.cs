using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Dashboard.Otlp;
using Dashboard.Telemetry;
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
/// A minimal OTLP/HTTP receiver (binary protobuf) on 127.0.0.1 and a free port: <c>POST /v1/traces</c> is decoded
/// with the Dashboard's decoder and kept; <c>/v1/logs</c> and <c>/v1/metrics</c> are accepted and ignored.
/// Thread-safe to read while receiving.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private const string Protobuf = "application/x-protobuf";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SpanRecord> _spans = new();

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base endpoint for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (the exporter appends <c>/v1/traces</c>).</summary>
    public Uri Endpoint { get; private set; } = null!;

    public IReadOnlyList<SpanRecord> Spans => [.. _spans];

    public static async Task<OtlpReceiver> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", receiver.ReceiveTracesAsync);
        app.MapPost("/v1/logs", Accept);
        app.MapPost("/v1/metrics", Accept);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task ReceiveTracesAsync(HttpContext context)
    {
        var request = ExportTraceServiceRequest.Parser.ParseFrom(await OtlpHttpApi.ReadBodyAsync(context.Request));
        foreach (var span in OtlpDecoder.Spans(request))
        {
            _spans.Enqueue(span);
        }
        context.Response.ContentType = Protobuf;
        await context.Response.Body.WriteAsync(new ExportTraceServiceResponse().ToByteArray(), context.RequestAborted);
    }

    // An empty body is a valid (empty) Export*ServiceResponse.
    private static IResult Accept() => Results.Bytes([], Protobuf);
}
