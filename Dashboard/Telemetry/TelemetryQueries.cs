namespace Dashboard.Telemetry;

/// <summary>Filters shared by the logs and traces views: <c>attr</c> is <c>key=value</c> (exact) or <c>key</c> (present).</summary>
internal sealed record TelemetryFilter(string? Resource, string? Text, IReadOnlyList<string> Attributes, string? Tenant)
{
    public bool MatchesAttributes(IReadOnlyDictionary<string, string> attributes)
    {
        if (Tenant is { Length: > 0 } && attributes.GetValueOrDefault("tenant.id") != Tenant)
        {
            return false;
        }
        foreach (var filter in Attributes)
        {
            var equals = filter.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0 ? !attributes.ContainsKey(filter) : attributes.GetValueOrDefault(filter[..equals]) != filter[(equals + 1)..])
            {
                return false;
            }
        }
        return true;
    }

    public bool MatchesText(params string?[] texts) =>
        Text is not { Length: > 0 } || texts.Any(t => t?.Contains(Text, StringComparison.OrdinalIgnoreCase) == true);
}

internal static class LogQueries
{
    private static readonly string[] Levels = ["Trace", "Debug", "Information", "Warning", "Error", "Fatal"];

    public static IReadOnlyList<string> LevelNames => Levels;

    /// <summary>Newest first. <paramref name="minimumLevel"/> is a level name; unknown names filter nothing.</summary>
    public static List<LogRecordEntry> Find(IEnumerable<LogRecordEntry> logs, TelemetryFilter filter, string? minimumLevel, string? traceId, int limit)
    {
        var minimum = Array.IndexOf(Levels, minimumLevel ?? string.Empty);
        return logs
            .Where(l => filter.Resource is not { Length: > 0 } || l.Service == filter.Resource)
            .Where(l => minimum < 0 || Array.IndexOf(Levels, l.Level) >= minimum)
            .Where(l => traceId is not { Length: > 0 } || l.TraceId == traceId)
            .Where(l => filter.MatchesAttributes(l.Attributes))
            .Where(l => filter.MatchesText([l.Message, l.Category, .. l.Attributes.Values]))
            .Reverse()
            .Take(limit)
            .ToList();
    }
}

/// <summary>One trace in a list: its root (or earliest) span, its services and tenants, and whether anything failed.</summary>
internal sealed record TraceSummary(
    string TraceId,
    string Name,
    string RootService,
    ulong StartNs,
    double DurationMs,
    int SpanCount,
    int ErrorCount,
    IReadOnlyList<string> Services,
    IReadOnlyList<string> Tenants);

/// <summary>A span placed in the waterfall: its depth in the tree and its offset from the trace's start.</summary>
internal sealed record WaterfallSpan(SpanRecord Span, int Depth, double OffsetMs);

internal static class TraceQueries
{
    /// <summary>Newest first; a trace matches when any of its spans matches every filter.</summary>
    public static List<TraceSummary> Find(IEnumerable<SpanRecord> spans, TelemetryFilter filter, bool errorsOnly, int limit) =>
        spans.GroupBy(s => s.TraceId)
            .Where(t => t.Any(s => (filter.Resource is not { Length: > 0 } || s.Service == filter.Resource)
                && filter.MatchesAttributes(s.Attributes)
                && filter.MatchesText([s.Name, s.StatusMessage, .. s.Attributes.Values])))
            .Where(t => !errorsOnly || t.Any(s => s.IsError))
            .Select(Summarize)
            .OrderByDescending(t => t.StartNs)
            .Take(limit)
            .ToList();

    public static TraceSummary Summarize(IEnumerable<SpanRecord> trace)
    {
        var spans = trace.ToList();
        var ids = spans.Select(s => s.SpanId).ToHashSet();
        var root = spans.Where(s => s.ParentSpanId is null || !ids.Contains(s.ParentSpanId)).MinBy(s => s.StartNs) ?? spans.MinBy(s => s.StartNs)!;
        var start = spans.Min(s => s.StartNs);
        var end = spans.Max(s => s.EndNs);
        return new TraceSummary(
            root.TraceId,
            root.Name,
            root.Service,
            start,
            end > start ? (end - start) / 1e6 : 0,
            spans.Count,
            spans.Count(s => s.IsError),
            [.. spans.Select(s => s.Service).Distinct().Order(StringComparer.Ordinal)],
            [.. spans.Select(s => s.Tenant).OfType<string>().Distinct().Order(StringComparer.Ordinal)]);
    }

    /// <summary>Depth-first by start time, so each span follows its parent; orphans (parent not received) start at depth 0.</summary>
    public static List<WaterfallSpan> Waterfall(IEnumerable<SpanRecord> spans, string traceId)
    {
        var trace = spans.Where(s => s.TraceId == traceId).DistinctBy(s => s.SpanId).ToList();
        if (trace.Count == 0)
        {
            return [];
        }
        var start = trace.Min(s => s.StartNs);
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        var children = trace.Where(s => s.ParentSpanId is not null && ids.Contains(s.ParentSpanId))
            .ToLookup(s => s.ParentSpanId!);
        var result = new List<WaterfallSpan>(trace.Count);
        void Visit(SpanRecord span, int depth)
        {
            result.Add(new WaterfallSpan(span, depth, (span.StartNs - start) / 1e6));
            foreach (var child in children[span.SpanId].OrderBy(c => c.StartNs))
            {
                Visit(child, depth + 1);
            }
        }
        foreach (var root in trace.Where(s => s.ParentSpanId is null || !ids.Contains(s.ParentSpanId)).OrderBy(s => s.StartNs))
        {
            Visit(root, 0);
        }
        return result;
    }
}
