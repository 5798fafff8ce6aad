using Queue;
using Tenancy;

namespace Hosting.Tenants;

/// <summary>What a tenant row shows: its state, why, and its figures.</summary>
/// <param name="Properties">The figures in display order (the summary first): grouped as the hold, the jobs now, the
/// last window's rates, then each queue.</param>
public sealed record TenantFigures(string Tenant, string State, string Style, string Summary, IReadOnlyList<TenantFigure> Properties);

/// <summary>One figure of a tenant row.</summary>
/// <param name="Name">A stable name (<c>tenant.jobs.waiting</c>), what <c>aspire describe</c> prints.</param>
/// <param name="DisplayName">What the dashboard shows beside the value.</param>
public sealed record TenantFigure(string Name, string DisplayName, string Value);

/// <summary>The thresholds that turn counts into a tenant's state.</summary>
public sealed record TenantThresholds
{
    /// <summary>Backlog when more jobs than this wait on one queue.</summary>
    public int BacklogJobs { get; init; } = 1000;

    /// <summary>Backlog when the oldest waiting job has waited longer than this.</summary>
    public TimeSpan BacklogAge { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Failing when more than this share of the jobs finished over <see cref="Window"/> failed for good...</summary>
    public double FailureRate { get; init; } = 0.2;

    /// <summary>...and at least this many failed.</summary>
    public int MinimumFailures { get; init; } = 3;

    /// <summary>The window of the rates: completed, failed, throughput.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Reads every tenant's queues from Valkey and turns them into <see cref="TenantFigures"/>: one counts script per queue
/// for all tenants plus the holds, whatever the number of tenants (see README for what that costs Valkey). Keeps the
/// running totals it saw to derive rates over the window. Not thread-safe: one refresh at a time.
/// </summary>
public sealed class TenantBoard(IJobQueueOperator queue, IReadOnlyList<string> queues, TenantThresholds thresholds, TimeProvider time)
{
    private readonly Dictionary<string, Queue<(DateTimeOffset At, long Completed, long Failed)>> _history = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<TenantFigures>> RefreshAsync(IReadOnlyList<TenantId> tenants, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        var counts = await queue.GetTenantCountsAsync(queues, tenants, cancellationToken);
        var holds = (await queue.GetHoldsAsync(cancellationToken)).ToDictionary(h => h.Tenant, StringComparer.Ordinal);
        var now = time.GetUtcNow();
        var byTenant = counts.ToLookup(c => c.Tenant, StringComparer.Ordinal);
        return [.. tenants.Select(t => Figures(t.Value!, [.. byTenant[t.Value!]], holds.GetValueOrDefault(t.Value!), now))];
    }

    private TenantFigures Figures(string tenant, List<TenantQueueCounts> queues, TenantHold? hold, DateTimeOffset now)
    {
        var completedTotal = queues.Sum(q => q.CompletedTotal);
        var failedTotal = queues.Sum(q => q.FailedTotal);
        if (!_history.TryGetValue(tenant, out var history))
        {
            _history[tenant] = history = new();
        }
        history.Enqueue((now, completedTotal, failedTotal));
        while (history.Count > 1 && now - history.Peek().At > thresholds.Window)
        {
            history.Dequeue();
        }
        var first = history.Peek();
        var completed = Math.Max(0, completedTotal - first.Completed);
        var failed = Math.Max(0, failedTotal - first.Failed);
        var minutes = Math.Max((now - first.At).TotalMinutes, 1.0 / 60);
        var oldest = queues.Select(q => q.OldestWaitingSince).Where(s => s is not null).Min();
        var oldestAge = oldest is { } since ? now - since : TimeSpan.Zero;
        var waiting = queues.Sum(q => q.Counts.Waiting);

        var window = Minutes(thresholds.Window);
        var properties = new List<TenantFigure>();
        if (hold is { IsHeld: true })
        {
            foreach (var reason in hold.Reasons)
            {
                properties.Add(reason.Kind == TenantHoldKind.Paused
                    ? new("tenant.hold.paused", "Paused", Since(reason))
                    : new($"tenant.hold.{reason.Dependency ?? "dependency"}", $"Held: {reason.Dependency ?? "a dependency"} unreachable", Since(reason)));
            }
        }
        properties.AddRange(
        [
            new("tenant.jobs.waiting", "Jobs waiting", Count(waiting)),
            new("tenant.jobs.active", "Jobs active", Count(queues.Sum(q => q.Counts.Active))),
            new("tenant.jobs.delayed", "Jobs delayed", Count(queues.Sum(q => q.Counts.Delayed))),
            new("tenant.jobs.failed", "Jobs failed (kept)", Count(queues.Sum(q => q.Counts.Failed))),
            new("tenant.jobs.oldest-wait", "Oldest waiting job", oldest is null ? "-" : Duration(oldestAge)),
            new("tenant.window.completed", $"Completed, last {window}", Count(completed)),
            new("tenant.window.failed", $"Failed, last {window}", Count(failed)),
            new("tenant.window.throughput", $"Throughput, last {window}", $"{(completed + failed) / minutes:0.#} jobs/min"),
        ]);
        foreach (var q in queues)
        {
            var c = q.Counts;
            properties.Add(new($"tenant.queue.{q.Queue}", $"Queue {q.Queue}",
                $"waiting {c.Waiting}, active {c.Active}, delayed {c.Delayed}, failed {c.Failed}, oldest {(q.OldestWaitingSince is { } s ? Duration(now - s) : "-")}" +
                (q.AtCeiling ? $", at its ceiling of {q.Ceiling} (new jobs refused)" : "")));
        }

        var (state, style, summary) = hold switch
        {
            { IsPaused: true } => (TenantStates.Paused, KnownResourceStateStyles.Warn, "An operator paused its job processing; its jobs wait."),
            { IsHeld: true } => (TenantStates.Unreachable(hold.Reasons[0].Dependency ?? ""), KnownResourceStateStyles.Error,
                $"Its jobs are held: {hold.Reasons[0].Reason}"),
            _ when failed >= thresholds.MinimumFailures && failed > thresholds.FailureRate * (completed + failed) =>
                (TenantStates.Failing, KnownResourceStateStyles.Error, $"{failed} of {completed + failed} jobs failed over the last {Minutes(thresholds.Window)}."),
            _ when queues.FirstOrDefault(q => q.AtCeiling) is { } full =>
                (TenantStates.AtCeiling, KnownResourceStateStyles.Error,
                    $"{full.Counts.Waiting + full.Counts.Delayed} jobs waiting or delayed on {full.Queue}, its ceiling: new jobs there are refused until some run."),
            _ when queues.Any(q => q.Counts.Waiting > thresholds.BacklogJobs) || oldestAge > thresholds.BacklogAge =>
                (TenantStates.Backlog, KnownResourceStateStyles.Warn, $"{waiting} jobs waiting, the oldest for {Duration(oldestAge)}."),
            _ => (TenantStates.Healthy, KnownResourceStateStyles.Success, "Its jobs flow."),
        };
        return new TenantFigures(tenant, state, style, summary, properties);
    }

    private static string Count(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Since(TenantHoldReason reason) => $"since {reason.Since:u}{(reason.Reason is { } why ? ": " + why : "")}";

    private static string Minutes(TimeSpan span) => $"{span.TotalMinutes:0} min";

    private static string Duration(TimeSpan span) =>
        span.TotalSeconds < 90 ? $"{span.TotalSeconds:0} s" : span.TotalMinutes < 90 ? $"{span.TotalMinutes:0} min" : $"{span.TotalHours:0.#} h";
}
