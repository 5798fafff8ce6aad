using Microsoft.Extensions.Options;

namespace Dashboard.Telemetry;

/// <summary>Everything received, per signal, each capped by <see cref="DashboardOptions"/>. Thread-safe.</summary>
internal sealed class TelemetryStore(IOptions<DashboardOptions> options)
{
    private long _logSequence;

    public BoundedStore<SpanRecord> Spans { get; } = new(options.Value.MaxSpans);

    public BoundedStore<LogRecordEntry> Logs { get; } = new(options.Value.MaxLogs);

    public BoundedStore<MetricPoint> Metrics { get; } = new(options.Value.MaxMetricPoints);

    public long NextLogSequence() => Interlocked.Increment(ref _logSequence);

    public object Stats() => new
    {
        spans = new { count = Spans.Count, capacity = Spans.Capacity, received = Spans.Received, dropped = Spans.Dropped },
        logs = new { count = Logs.Count, capacity = Logs.Capacity, received = Logs.Received, dropped = Logs.Dropped },
        metrics = new { count = Metrics.Count, capacity = Metrics.Capacity, received = Metrics.Received, dropped = Metrics.Dropped },
    };
}
