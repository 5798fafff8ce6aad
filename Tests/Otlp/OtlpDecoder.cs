using System.Globalization;

using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Resource.V1;
using ProtoStatus = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace Tests.Otlp;

/// <summary>Turns OTLP export requests into records the tests can read.</summary>
internal static partial class OtlpDecoder
{
    public static IEnumerable<SpanRecord> Spans(ExportTraceServiceRequest request)
    {
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var service = ServiceName(resourceSpans.Resource);
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                foreach (var span in scopeSpans.Spans)
                {
                    yield return new SpanRecord(
                        service,
                        scopeSpans.Scope?.Name ?? string.Empty,
                        Convert.ToHexStringLower(span.TraceId.Span),
                        Convert.ToHexStringLower(span.SpanId.Span),
                        span.ParentSpanId.IsEmpty ? null : Convert.ToHexStringLower(span.ParentSpanId.Span),
                        span.Name,
                        span.Kind.ToString(),
                        span.StartTimeUnixNano,
                        span.EndTimeUnixNano,
                        span.Status?.Code switch
                        {
                            ProtoStatus.Error => "error",
                            ProtoStatus.Ok => "ok",
                            _ => "unset",
                        },
                        string.IsNullOrEmpty(span.Status?.Message) ? null : span.Status.Message,
                        Attributes(span.Attributes));
                }
            }
        }
    }

    public static IEnumerable<LogRecordEntry> Logs(ExportLogsServiceRequest request, Func<long> sequence)
    {
        foreach (var resourceLogs in request.ResourceLogs)
        {
            var service = ServiceName(resourceLogs.Resource);
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                foreach (var log in scopeLogs.LogRecords)
                {
                    var attributes = Attributes(log.Attributes);
                    // The .NET SDK sends the logger's category as the scope name.
                    var category = scopeLogs.Scope?.Name ?? string.Empty;
                    yield return new LogRecordEntry(
                        sequence(),
                        log.TimeUnixNano != 0 ? log.TimeUnixNano : log.ObservedTimeUnixNano,
                        service,
                        category,
                        Level((int)log.SeverityNumber, log.SeverityText),
                        (int)log.SeverityNumber,
                        Message(Render(log.Body), attributes),
                        log.TraceId.IsEmpty ? null : Convert.ToHexStringLower(log.TraceId.Span),
                        log.SpanId.IsEmpty ? null : Convert.ToHexStringLower(log.SpanId.Span),
                        attributes);
                }
            }
        }
    }

    public static IEnumerable<MetricPoint> Metrics(ExportMetricsServiceRequest request)
    {
        foreach (var resourceMetrics in request.ResourceMetrics)
        {
            var service = ServiceName(resourceMetrics.Resource);
            var instance = Attribute(resourceMetrics.Resource, "service.instance.id") ?? service;
            foreach (var metric in resourceMetrics.ScopeMetrics.SelectMany(s => s.Metrics))
            {
                switch (metric.DataCase)
                {
                    case Metric.DataOneofCase.Gauge:
                        foreach (var point in metric.Gauge.DataPoints)
                        {
                            yield return Number(service, instance, metric, MetricKind.Gauge, cumulative: false, point);
                        }
                        break;
                    case Metric.DataOneofCase.Sum:
                        var cumulative = metric.Sum.AggregationTemporality == AggregationTemporality.Cumulative;
                        foreach (var point in metric.Sum.DataPoints)
                        {
                            yield return Number(service, instance, metric, MetricKind.Sum, cumulative, point);
                        }
                        break;
                    case Metric.DataOneofCase.Histogram:
                        var cumulativeHistogram = metric.Histogram.AggregationTemporality == AggregationTemporality.Cumulative;
                        foreach (var point in metric.Histogram.DataPoints)
                        {
                            yield return new MetricPoint(service, instance, metric.Name, metric.Unit, MetricKind.Histogram, cumulativeHistogram,
                                point.StartTimeUnixNano, point.TimeUnixNano, point.HasSum ? point.Sum : 0, point.Count, Attributes(point.Attributes));
                        }
                        break;
                    default:
                        // Exponential histograms and summaries are not charted; they are not counted as received either.
                        break;
                }
            }
        }
    }

    /// <summary>
    /// A .NET exporter without <c>IncludeFormattedMessage</c> sends the template as the body (and its arguments as
    /// attributes): fill the placeholders so the message reads as the service wrote it.
    /// </summary>
    private static string Message(string body, Dictionary<string, string> attributes)
    {
        if (!body.Contains('{', StringComparison.Ordinal) || (attributes.TryGetValue("{OriginalFormat}", out var template) && template != body))
        {
            return body;
        }
        return Placeholder().Replace(body, match =>
        {
            var name = match.Groups[1].Value;
            return attributes.TryGetValue(name, out var value) ? value : match.Value;
        });
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\{@?([^{}:,]+)(?:[,:][^{}]*)?\}")]
    private static partial System.Text.RegularExpressions.Regex Placeholder();

    private static MetricPoint Number(string service, string instance, Metric metric, MetricKind kind, bool cumulative, NumberDataPoint point) =>
        new(service, instance, metric.Name, metric.Unit, kind, cumulative, point.StartTimeUnixNano, point.TimeUnixNano,
            point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble, 0, Attributes(point.Attributes));

    public static string ServiceName(Resource? resource) => Attribute(resource, "service.name") ?? "unknown";

    private static string? Attribute(Resource? resource, string key) =>
        resource?.Attributes.FirstOrDefault(a => a.Key == key) is { } attribute ? Render(attribute.Value) : null;

    private static Dictionary<string, string> Attributes(IEnumerable<KeyValue> attributes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            result[attribute.Key] = Render(attribute.Value);
        }
        return result;
    }

    private static string Level(int severity, string text) => severity switch
    {
        >= 21 => "Fatal",
        >= 17 => "Error",
        >= 13 => "Warning",
        >= 9 => "Information",
        >= 5 => "Debug",
        >= 1 => "Trace",
        _ => string.IsNullOrEmpty(text) ? "Unspecified" : text,
    };

    public static string Render(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => "[" + string.Join(",", value.ArrayValue.Values.Select(Render)) + "]",
        AnyValue.ValueOneofCase.KvlistValue => "{" + string.Join(",", value.KvlistValue.Values.Select(v => v.Key + "=" + Render(v.Value))) + "}",
        AnyValue.ValueOneofCase.BytesValue => Convert.ToBase64String(value.BytesValue.Span),
        _ => string.Empty,
    };
}
