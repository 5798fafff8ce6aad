using System.Security.Cryptography;
using System.Text;
using Dashboard.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Dashboard.Otlp;

/// <summary>
/// OTLP over gRPC: the collector's <c>TraceService</c>, <c>LogsService</c> and <c>MetricsService</c>, on the
/// HTTP/2 endpoint (<c>Kestrel:Endpoints:OtlpGrpc</c>), with the same <c>x-otlp-api-key</c> check and stores as OTLP/HTTP.
/// </summary>
internal static class OtlpGrpc
{
    public static void MapOtlpGrpcServices(this IEndpointRouteBuilder app)
    {
        app.MapGrpcService<TraceReceiver>().AllowAnonymous();
        app.MapGrpcService<LogsReceiver>().AllowAnonymous();
        app.MapGrpcService<MetricsReceiver>().AllowAnonymous();
    }

    internal static void RequireApiKey(ServerCallContext context, DashboardOptions options)
    {
        if (options.Unsecured)
        {
            return;
        }
        var given = context.RequestHeaders.GetValue(OtlpHttpApi.ApiKeyHeader) ?? string.Empty;
        if (string.IsNullOrEmpty(options.OtlpApiKey) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(options.OtlpApiKey)))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Missing or wrong " + OtlpHttpApi.ApiKeyHeader + "."));
        }
    }

    private sealed class TraceReceiver(TelemetryStore store, IOptions<DashboardOptions> options) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            RequireApiKey(context, options.Value);
            store.Spans.AddRange(OtlpDecoder.Spans(request));
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class LogsReceiver(TelemetryStore store, IOptions<DashboardOptions> options) : LogsService.LogsServiceBase
    {
        public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
        {
            RequireApiKey(context, options.Value);
            store.Logs.AddRange(OtlpDecoder.Logs(request, store.NextLogSequence));
            return Task.FromResult(new ExportLogsServiceResponse());
        }
    }

    private sealed class MetricsReceiver(TelemetryStore store, IOptions<DashboardOptions> options) : MetricsService.MetricsServiceBase
    {
        public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
        {
            RequireApiKey(context, options.Value);
            store.Metrics.AddRange(OtlpDecoder.Metrics(request));
            return Task.FromResult(new ExportMetricsServiceResponse());
        }
    }
}
