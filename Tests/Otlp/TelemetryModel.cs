namespace Tests.Otlp;

/// <summary>One span as received: ids in lower-case hex, times in Unix nanoseconds, attributes rendered as text.</summary>
internal sealed record SpanRecord(
    string Service,
    string Scope,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    string Kind,
    ulong StartNs,
    ulong EndNs,
    string Status,
    string? StatusMessage,
    IReadOnlyDictionary<string, string> Attributes)
{
    public double DurationMs => EndNs > StartNs ? (EndNs - StartNs) / 1e6 : 0;

    public bool IsError => Status == "error";

    public string? Tenant => Attributes.GetValueOrDefault("tenant.id");
}

/// <summary>One log record as received. <see cref="Level"/> is the severity's name (Trace ... Fatal).</summary>
internal sealed record LogRecordEntry(
    long Sequence,
    ulong TimeNs,
    string Service,
    string Category,
    string Level,
    int SeverityNumber,
    string Message,
    string? TraceId,
    string? SpanId,
    IReadOnlyDictionary<string, string> Attributes);

internal enum MetricKind
{
    Gauge,
    Sum,
    Histogram,
}

/// <summary>
/// One data point as received. For sums and gauges <see cref="Value"/> is the point's value; for histograms
/// <see cref="Count"/> and <see cref="Value"/> (the sum). <see cref="Cumulative"/> says whether the point repeats
/// everything since <see cref="StartNs"/> (the .NET SDK's default) or only the last interval.
/// </summary>
internal sealed record MetricPoint(
    string Service,
    string ServiceInstance,
    string Name,
    string Unit,
    MetricKind Kind,
    bool Cumulative,
    ulong StartNs,
    ulong TimeNs,
    double Value,
    ulong Count,
    IReadOnlyDictionary<string, string> Attributes)
{
    /// <summary>The point's attributes in key order, as text: identifies an attribute set across processes.</summary>
    public string AttributeKey { get; } = string.Join(",", Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Key + "=" + a.Value));

    /// <summary>Identifies the time series: the exporting process, the instrument and the point's attributes.</summary>
    public string SeriesKey => ServiceInstance + "|" + Name + "|" + AttributeKey;
}
