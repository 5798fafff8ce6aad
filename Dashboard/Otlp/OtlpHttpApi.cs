using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Dashboard.Telemetry;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Dashboard.Otlp;

/// <summary>
/// OTLP/HTTP with binary protobuf (<c>application/x-protobuf</c>, optionally gzip): <c>POST /v1/traces</c>,
/// <c>/v1/logs</c>, <c>/v1/metrics</c>. Every export must carry the configured key in <c>x-otlp-api-key</c>.
/// JSON-encoded OTLP is answered 415.
/// </summary>
internal static class OtlpHttpApi
{
    public const string ApiKeyHeader = "x-otlp-api-key";
    private const string Protobuf = "application/x-protobuf";

    public static IEndpointConventionBuilder MapOtlpHttpApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("v1").AllowAnonymous().AddEndpointFilter(RequireApiKey).DisableAntiforgery();
        group.MapPost("traces", ReceiveTracesAsync);
        group.MapPost("logs", ReceiveLogsAsync);
        group.MapPost("metrics", ReceiveMetricsAsync);
        return group;
    }

    private static async ValueTask<object?> RequireApiKey(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var options = context.HttpContext.RequestServices.GetRequiredService<IOptions<DashboardOptions>>().Value;
        if (!options.Unsecured)
        {
            var expected = options.OtlpApiKey;
            var given = context.HttpContext.Request.Headers[ApiKeyHeader].ToString();
            if (string.IsNullOrEmpty(expected) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected)))
            {
                return TypedResults.Unauthorized();
            }
        }
        var contentType = context.HttpContext.Request.ContentType ?? string.Empty;
        if (!contentType.StartsWith(Protobuf, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }
        return await next(context);
    }

    private static async Task<IResult> ReceiveTracesAsync(HttpRequest request, TelemetryStore store)
    {
        var body = await ReadBodyAsync(request);
        if (!TryParse(ExportTraceServiceRequest.Parser, body, out var export))
        {
            return TypedResults.BadRequest();
        }
        store.Spans.AddRange(OtlpDecoder.Spans(export));
        return TypedResults.Bytes(new ExportTraceServiceResponse().ToByteArray(), Protobuf);
    }

    private static async Task<IResult> ReceiveLogsAsync(HttpRequest request, TelemetryStore store)
    {
        var body = await ReadBodyAsync(request);
        if (!TryParse(ExportLogsServiceRequest.Parser, body, out var export))
        {
            return TypedResults.BadRequest();
        }
        store.Logs.AddRange(OtlpDecoder.Logs(export, store.NextLogSequence));
        return TypedResults.Bytes(new ExportLogsServiceResponse().ToByteArray(), Protobuf);
    }

    private static async Task<IResult> ReceiveMetricsAsync(HttpRequest request, TelemetryStore store)
    {
        var body = await ReadBodyAsync(request);
        if (!TryParse(ExportMetricsServiceRequest.Parser, body, out var export))
        {
            return TypedResults.BadRequest();
        }
        store.Metrics.AddRange(OtlpDecoder.Metrics(export));
        return TypedResults.Bytes(new ExportMetricsServiceResponse().ToByteArray(), Protobuf);
    }

    private static bool TryParse<T>(MessageParser<T> parser, byte[] body, out T message)
        where T : IMessage<T>
    {
        try
        {
            message = parser.ParseFrom(body);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            message = default!;
            return false;
        }
    }

    /// <summary>The request body, gunzipped when the exporter compressed it.</summary>
    internal static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        if (string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            await using var gzip = new GZipStream(request.Body, CompressionMode.Decompress);
            await gzip.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        }
        else
        {
            await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        }
        return buffer.ToArray();
    }
}
