using Dashboard.Telemetry;

namespace Dashboard.Tenants;

/// <summary>
/// Tenants as first-class: every <c>tenant.id</c> seen in the Queue's metrics or in spans, and per queue what the
/// Queue meter reports (see Queue's <c>QueueTelemetry</c>): <c>queue.jobs</c> (depth by <c>queue.job.state</c>; the
/// older <c>queue.jobs.waiting</c> when a worker reports only that),
/// <c>queue.jobs.enqueued</c>/<c>completed</c>/<c>failed</c> (counters) and <c>queue.job.wait_time</c> (histogram),
/// all tagged <c>tenant.id</c> and <c>messaging.destination.name</c>.
/// </summary>
internal static class TenantOverview
{
    public const string TenantKey = "tenant.id";
    public const string QueueKey = "messaging.destination.name";

    public const string StateKey = "queue.job.state";

    internal sealed record QueueFigures(
        string Queue,
        double? Waiting,
        double? Active,
        double? Delayed,
        double? FailedKept,
        double Enqueued,
        double Completed,
        double Failed,
        double ThroughputPerMinute,
        double? FailureRate,
        double? MeanWaitSeconds);

    internal sealed record TenantFigures(string Tenant, IReadOnlyList<QueueFigures> Queues, int SpanCount, int ErrorSpanCount)
    {
        public double Waiting => Queues.Sum(q => q.Waiting ?? 0);
        public double Completed => Queues.Sum(q => q.Completed);
        public double Failed => Queues.Sum(q => q.Failed);
        public double ThroughputPerMinute => Queues.Sum(q => q.ThroughputPerMinute);
        public double? FailureRate => Completed + Failed > 0 ? Failed / (Completed + Failed) : null;
    }

    /// <summary>A failed span of the tenant: a job attempt (consumer span) or any other operation that set an error status.</summary>
    internal sealed record Failure(ulong TimeNs, string Service, string Name, string? Queue, string? Job, string? JobId, string? Message, string TraceId, string SpanId);

    /// <summary>Every tenant declared (<paramref name="declared"/>) or seen in telemetry, with its figures over the window.</summary>
    public static List<TenantFigures> All(TelemetryStore store, ulong nowNs, int minutes, IEnumerable<string>? declared = null)
    {
        var sinceNs = nowNs - (ulong)minutes * 60_000_000_000UL;
        var points = store.Metrics.Snapshot();
        var spans = store.Spans.Snapshot();
        var tenants = points.Where(p => p.Name.StartsWith("queue.", StringComparison.Ordinal)).Select(p => p.Attributes.GetValueOrDefault(TenantKey))
            .Concat(spans.Select(s => s.Tenant))
            .Concat(declared ?? [])
            .OfType<string>()
            .Where(t => t is not ("none" or ""))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

        Dictionary<(string Tenant, string Queue), (double Value, double Count)> Totals(string name)
        {
            var totals = new Dictionary<(string, string), (double, double)>();
            foreach (var increase in MetricQueries.Increases(points, name, sinceNs))
            {
                var key = (increase.Point.Attributes.GetValueOrDefault(TenantKey) ?? "none", increase.Point.Attributes.GetValueOrDefault(QueueKey) ?? "?");
                var (value, count) = totals.GetValueOrDefault(key);
                totals[key] = (value + increase.Value, count + increase.Count);
            }
            return totals;
        }

        var enqueued = Totals("queue.jobs.enqueued");
        var completed = Totals("queue.jobs.completed");
        var failed = Totals("queue.jobs.failed");
        var wait = Totals("queue.job.wait_time");
        var waiting = MetricQueries.Latest(points, "queue.jobs.waiting", sinceNs)
            .GroupBy(p => (p.Attributes.GetValueOrDefault(TenantKey) ?? "none", p.Attributes.GetValueOrDefault(QueueKey) ?? "?"))
            .ToDictionary(g => g.Key, g => g.Sum(p => p.Value));
        var byState = MetricQueries.Latest(points, "queue.jobs", sinceNs)
            .GroupBy(p => (p.Attributes.GetValueOrDefault(TenantKey) ?? "none", p.Attributes.GetValueOrDefault(QueueKey) ?? "?", p.Attributes.GetValueOrDefault(StateKey) ?? "?"))
            .ToDictionary(g => g.Key, g => g.Sum(p => p.Value));
        double? Depth((string Tenant, string Queue) key, string state) =>
            byState.TryGetValue((key.Tenant, key.Queue, state), out var value) ? value : null;

        return [.. tenants.Select(tenant =>
        {
            var queues = enqueued.Keys.Concat(completed.Keys).Concat(failed.Keys).Concat(wait.Keys).Concat(waiting.Keys)
                .Concat(byState.Keys.Select(k => (k.Item1, k.Item2)))
                .Where(k => k.Item1 == tenant)
                .Select(k => k.Item2)
                .Distinct()
                .Order(StringComparer.Ordinal)
                .Select(queue =>
                {
                    var key = (tenant, queue);
                    var done = completed.GetValueOrDefault(key).Value;
                    var failures = failed.GetValueOrDefault(key).Value;
                    var (waitSum, waitCount) = wait.GetValueOrDefault(key);
                    return new QueueFigures(
                        queue,
                        Depth(key, "waiting") ?? (waiting.TryGetValue(key, out var depth) ? depth : null),
                        Depth(key, "active"),
                        Depth(key, "delayed"),
                        Depth(key, "failed"),
                        enqueued.GetValueOrDefault(key).Value,
                        done,
                        failures,
                        (done + failures) / minutes,
                        done + failures > 0 ? failures / (done + failures) : null,
                        waitCount > 0 ? waitSum / waitCount : null);
                })
                .ToList();
            var tenantSpans = spans.Where(s => s.Tenant == tenant && s.StartNs >= sinceNs).ToList();
            return new TenantFigures(tenant, queues, tenantSpans.Count, tenantSpans.Count(s => s.IsError));
        })];
    }

    public static List<Failure> RecentFailures(TelemetryStore store, string tenant, int limit) =>
        [.. store.Spans.Snapshot()
            .Where(s => s.IsError && s.Tenant == tenant)
            .Reverse()
            .Take(limit)
            .Select(s => new Failure(
                s.EndNs,
                s.Service,
                s.Name,
                s.Attributes.GetValueOrDefault(QueueKey),
                s.Attributes.GetValueOrDefault("job.name"),
                s.Attributes.GetValueOrDefault("messaging.message.id"),
                s.StatusMessage,
                s.TraceId,
                s.SpanId))];
}
