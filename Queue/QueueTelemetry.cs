using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Queue.Storage;

namespace Queue;

/// <summary>
/// The queue's traces and metrics. Register <see cref="ActivitySourceName"/> and <see cref="MeterName"/> with
/// OpenTelemetry. Spans follow the messaging conventions: a producer span per enqueue call and a consumer span per
/// job, the child of the producer span recorded in the job (W3C traceparent); both carry <c>tenant.id</c>.
/// </summary>
public static class QueueTelemetry
{
    /// <summary>The attribute that carries the tenant on spans, log records and metric points.</summary>
    public const string TenantAttribute = "tenant.id";

    public const string ActivitySourceName = "Queue";
    public const string MeterName = "Queue";

    internal const string MessagingSystem = "valkey";

    internal static readonly ActivitySource Source = new(ActivitySourceName);
    private static readonly Meter Meter = new(MeterName);

    internal static readonly Counter<long> Enqueued = Meter.CreateCounter<long>("queue.jobs.enqueued", "{job}", "Jobs added to a queue.");
    internal static readonly Counter<long> Completed = Meter.CreateCounter<long>("queue.jobs.completed", "{job}", "Jobs whose handler succeeded.");
    internal static readonly Counter<long> Failed = Meter.CreateCounter<long>("queue.jobs.failed", "{job}", "Job attempts that failed (retried or final).");
    internal static readonly Histogram<double> WaitTime = Meter.CreateHistogram<double>("queue.job.wait_time", "s", "From enqueue to start of the attempt.");
    internal static readonly Histogram<double> RunTime = Meter.CreateHistogram<double>("queue.job.run_time", "s", "Handler run time.");

    /// <summary>Last depths seen by this process's heartbeat, per queue and tenant.</summary>
    private static readonly ConcurrentDictionary<(string Queue, string Tenant), long> Depths = new();

    /// <summary>Last counts per state seen by this process's heartbeat, per queue and tenant.</summary>
    private static readonly ConcurrentDictionary<(string Queue, string Tenant), JobCounts> StateDepths = new();

    static QueueTelemetry()
    {
        Meter.CreateObservableGauge("queue.jobs.waiting", ObserveDepth, "{job}", "Waiting jobs per queue and tenant with any, as of the last heartbeat (published by one worker per queue).");
        Meter.CreateObservableGauge("queue.jobs", ObserveStateDepths, "{job}",
            "Jobs per queue, tenant and state (queue.job.state: waiting, active, delayed, completed, failed) for the tenants with jobs, as of the last heartbeat (published by one worker per queue).");
    }

    internal static void SetStateDepths(string queue, IReadOnlyList<(string Tenant, JobCounts Counts)> depths)
    {
        var reported = depths.Select(d => d.Tenant).ToHashSet(StringComparer.Ordinal);
        foreach (var key in StateDepths.Keys.Where(k => k.Queue == queue && !reported.Contains(k.Tenant)))
        {
            StateDepths.TryRemove(key, out _);
        }
        foreach (var (tenant, counts) in depths)
        {
            StateDepths[(queue, tenant)] = counts;
        }
    }

    private static IEnumerable<Measurement<long>> ObserveStateDepths()
    {
        foreach (var ((queue, tenant), counts) in StateDepths)
        {
            foreach (var (state, value) in new[] { ("waiting", counts.Waiting), ("active", counts.Active), ("delayed", counts.Delayed), ("completed", counts.Completed), ("failed", counts.Failed) })
            {
                var tags = Tags(queue, tenant);
                tags.Add("queue.job.state", state);
                yield return new Measurement<long>(value, tags);
            }
        }
    }

    internal static void SetDepth(string queue, IReadOnlyList<(string Tenant, long Waiting)> depths)
    {
        var reported = depths.Select(d => d.Tenant).ToHashSet(StringComparer.Ordinal);
        foreach (var key in Depths.Keys.Where(k => k.Queue == queue && !reported.Contains(k.Tenant)))
        {
            Depths.TryRemove(key, out _);
        }
        foreach (var (tenant, waiting) in depths)
        {
            Depths[(queue, tenant)] = waiting;
        }
    }

    private static IEnumerable<Measurement<long>> ObserveDepth() =>
        Depths.Select(d => new Measurement<long>(d.Value, Tags(d.Key.Queue, d.Key.Tenant)));

    internal static TagList Tags(string queue, string tenant) => new()
    {
        { "messaging.destination.name", queue },
        { TenantAttribute, TenantTag(tenant) },
    };

    internal static string TenantTag(string slot) => slot == QueueLayout.NoTenant ? "none" : slot;

    internal static Activity? StartEnqueue(string queue, string tenant, int count)
    {
        var activity = Source.StartActivity($"send {queue}", ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", MessagingSystem);
            activity.SetTag("messaging.destination.name", queue);
            activity.SetTag("messaging.operation.type", "send");
            activity.SetTag("messaging.operation.name", "enqueue");
            activity.SetTag(TenantAttribute, TenantTag(tenant));
            if (count > 1)
            {
                activity.SetTag("messaging.batch.message_count", count);
            }
        }
        return activity;
    }

    internal static Activity? StartProcess(FetchedJob job)
    {
        ActivityContext.TryParse(job.TraceParent, null, isRemote: true, out var parent);
        var activity = Source.StartActivity($"process {job.Queue}", ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", MessagingSystem);
            activity.SetTag("messaging.destination.name", job.Queue);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.operation.name", "process");
            activity.SetTag("messaging.message.id", job.Id);
            activity.SetTag(TenantAttribute, TenantTag(job.Tenant));
            activity.SetTag("job.name", job.Name);
            activity.SetTag("job.attempt", job.Attempt);
        }
        return activity;
    }
}

/// <summary>A log scope whose one attribute is <c>tenant.id</c>, so log records written inside it carry the tenant.</summary>
internal sealed class TenantLogScope(string tenant) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?> _tenant = new(QueueTelemetry.TenantAttribute, tenant);

    public KeyValuePair<string, object?> this[int index] => index == 0 ? _tenant : throw new ArgumentOutOfRangeException(nameof(index));

    public int Count => 1;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return _tenant;
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"{QueueTelemetry.TenantAttribute}={tenant}";
}
