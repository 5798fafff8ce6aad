namespace Dashboard.Telemetry;

/// <summary>
/// Rates and averages over time windows from received points, whichever temporality they were exported with:
/// a cumulative series contributes the differences between its consecutive points (a drop means the process
/// restarted, so the new value is the increase), a delta series its values.
/// </summary>
internal static class MetricQueries
{
    /// <summary>One increase of a counter or histogram: <see cref="Value"/> (sum) and <see cref="Count"/> at <see cref="TimeNs"/>.</summary>
    internal readonly record struct Increase(MetricPoint Point, ulong TimeNs, double Value, double Count);

    public static IEnumerable<Increase> Increases(IEnumerable<MetricPoint> points, string name, ulong sinceNs)
    {
        foreach (var series in points.Where(p => p.Name == name).GroupBy(p => p.SeriesKey))
        {
            MetricPoint? previous = null;
            foreach (var point in series.OrderBy(p => p.TimeNs))
            {
                if (!point.Cumulative)
                {
                    if (point.TimeNs >= sinceNs)
                    {
                        yield return new Increase(point, point.TimeNs, point.Value, point.Count);
                    }
                }
                else if (previous is null || point.StartNs != previous.StartNs || point.Value < previous.Value || point.Count < previous.Count)
                {
                    // The first point of a series that started inside the window counts from zero.
                    if (point.TimeNs >= sinceNs && point.StartNs >= sinceNs)
                    {
                        yield return new Increase(point, point.TimeNs, point.Value, point.Count);
                    }
                }
                else if (point.TimeNs >= sinceNs)
                {
                    yield return new Increase(point, point.TimeNs, point.Value - previous.Value, (double)point.Count - previous.Count);
                }
                previous = point;
            }
        }
    }

    /// <summary>The latest point of each attribute set (across processes: a gauge every worker reports is counted once).</summary>
    public static IEnumerable<MetricPoint> Latest(IEnumerable<MetricPoint> points, string name, ulong sinceNs) =>
        points.Where(p => p.Name == name && p.TimeNs >= sinceNs)
            .GroupBy(p => p.AttributeKey)
            .Select(g => g.MaxBy(p => p.TimeNs)!);

    public static IReadOnlyList<string> Names(IEnumerable<MetricPoint> points) =>
        [.. points.Select(p => p.Name).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>A chart: per group (the <paramref name="groupBy"/> attribute's value), one value per bucket.</summary>
    internal sealed record Series(string Group, IReadOnlyList<double?> Values);

    internal sealed record Chart(string Name, string Unit, string Measure, ulong StartNs, int BucketSeconds, IReadOnlyList<Series> Series);

    /// <summary>
    /// Sums: increase per minute; histograms: mean of the values recorded in the bucket; gauges: the last value
    /// (summed over the group's attribute sets).
    /// </summary>
    public static Chart Buckets(IReadOnlyList<MetricPoint> points, string name, string groupBy, ulong nowNs, int minutes, int bucketSeconds)
    {
        var bucketNs = (ulong)bucketSeconds * 1_000_000_000UL;
        var buckets = Math.Max(1, minutes * 60 / bucketSeconds);
        var startNs = nowNs - (ulong)buckets * bucketNs;
        var sample = points.LastOrDefault(p => p.Name == name);
        string Group(MetricPoint p) => p.Attributes.GetValueOrDefault(groupBy) ?? "(none)";
        int Bucket(ulong timeNs) => (int)Math.Min((ulong)buckets - 1, (timeNs - startNs) / bucketNs);
        var series = new List<Series>();
        if (sample is null)
        {
            return new Chart(name, string.Empty, "none", startNs, bucketSeconds, series);
        }
        if (sample.Kind == MetricKind.Gauge)
        {
            foreach (var group in points.Where(p => p.Name == name && p.TimeNs >= startNs).GroupBy(Group))
            {
                var values = new double?[buckets];
                foreach (var bucket in group.GroupBy(p => Bucket(p.TimeNs)))
                {
                    values[bucket.Key] = Latest(bucket, name, startNs).Sum(p => p.Value);
                }
                series.Add(new Series(group.Key, values));
            }
            return new Chart(name, sample.Unit, "last value", startNs, bucketSeconds, Sorted(series));
        }
        foreach (var group in Increases(points, name, startNs).GroupBy(i => Group(i.Point)))
        {
            var sums = new double[buckets];
            var counts = new double[buckets];
            foreach (var increase in group)
            {
                sums[Bucket(increase.TimeNs)] += increase.Value;
                counts[Bucket(increase.TimeNs)] += increase.Count;
            }
            series.Add(sample.Kind == MetricKind.Histogram
                ? new Series(group.Key, [.. sums.Select((s, i) => counts[i] > 0 ? s / counts[i] : (double?)null)])
                : new Series(group.Key, [.. sums.Select(s => (double?)(s * 60 / bucketSeconds))]));
        }
        return new Chart(name, sample.Unit, sample.Kind == MetricKind.Histogram ? "mean" : "per minute", startNs, bucketSeconds, Sorted(series));
    }

    private static List<Series> Sorted(List<Series> series) => [.. series.OrderBy(s => s.Group, StringComparer.Ordinal)];
}
