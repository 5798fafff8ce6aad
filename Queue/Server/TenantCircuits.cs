using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Queue.Storage;

namespace Queue.Server;

/// <summary>What one fetch must skip or limit, and which tenants it probes for which dependency.</summary>
internal sealed record FetchGate(IReadOnlyList<(string Tenant, int Limit)> Held, IReadOnlyDictionary<string, string> Probes, long NextProbeMs)
{
    public static readonly FetchGate Open = new([], new Dictionary<string, string>(StringComparer.Ordinal), -1);
}

/// <summary>
/// This worker's view of tenant holds (a cache of <see cref="HoldStore"/>, refreshed on every change message and at
/// least every <see cref="JobQueueServerOptions.SafetyPollInterval"/>) and the per-tenant circuit per dependency:
/// <see cref="JobQueueServerOptions.CircuitThreshold"/> dependency failures of a tenant in a row open it (a hold for
/// that dependency, shared by every worker); while it is open one job at a time probes it at growing intervals, and a
/// probe that gets through closes it. Thread-safe: every queue processor of the worker shares it.
/// </summary>
internal sealed class TenantCircuits(HoldStore store, IOptions<JobQueueServerOptions> options, TimeProvider time, ILoggerFactory loggers) : IDisposable
{
    private static readonly IReadOnlyDictionary<string, HeldTenant> NoHolds = new Dictionary<string, HeldTenant>(StringComparer.Ordinal);

    private readonly ILogger _logger = loggers.CreateLogger("Queue.Holds");
    private readonly ConcurrentDictionary<(string Tenant, string Dependency), int> _streaks = new();

    /// <summary>At least the number of entries in <see cref="_streaks"/> (a racing add may count one that another made: it only costs a lookup).</summary>
    private int _streakCount;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private IReadOnlyDictionary<string, HeldTenant> _held = NoHolds;
    private int _refreshWanted;

    /// <summary>Raised after a refresh changed what is held (processors wake: a resumed tenant's jobs are waiting).</summary>
    public event Action? Changed;

    public IReadOnlyDictionary<string, HeldTenant> Current => Volatile.Read(ref _held);

    private JobQueueServerOptions Options => options.Value;

    public void Dispose() => _refreshing.Dispose();

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Re-reads every hold. Calls that arrive during a refresh are folded into one more.</summary>
    public async Task RefreshAsync()
    {
        Interlocked.Exchange(ref _refreshWanted, 1);
        if (!await _refreshing.WaitAsync(0))
        {
            return;
        }
        try
        {
            while (Interlocked.Exchange(ref _refreshWanted, 0) == 1)
            {
                var all = await store.AllAsync();
                var before = Interlocked.Exchange(ref _held, all.ToDictionary(h => h.Tenant, StringComparer.Ordinal));
                if (before.Count != 0 || all.Count != 0)
                {
                    Changed?.Invoke();
                }
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>
    /// The held tenants for one fetch. A tenant held only for dependencies whose probe is due is offered with a limit
    /// of one job, once its probe is claimed (one probe at a time over all workers and queues).
    /// </summary>
    public async Task<FetchGate> GateAsync()
    {
        var held = Current;
        if (held.Count == 0)
        {
            return FetchGate.Open;
        }
        var now = Now();
        var limits = new List<(string, int)>(held.Count);
        var probes = new Dictionary<string, string>(StringComparer.Ordinal);
        var nextProbe = -1L;
        foreach (var tenant in held.Values)
        {
            var limit = 0;
            if (!tenant.Paused)
            {
                foreach (var dependency in tenant.Dependencies)
                {
                    if (dependency.NextProbeMs > now)
                    {
                        nextProbe = nextProbe < 0 ? dependency.NextProbeMs : Math.Min(nextProbe, dependency.NextProbeMs);
                        continue;
                    }
                    var claimed = await store.ClaimProbeAsync(tenant.Tenant, dependency.Dependency, now, 2 * Options.MaxProbeInterval);
                    // Claimed here or elsewhere: either way no other processor of this worker should try before the next refresh.
                    Postpone(tenant.Tenant, dependency.Dependency, now + (long)(claimed ? 2 * Options.MaxProbeInterval : Options.FirstProbeInterval).TotalMilliseconds);
                    if (claimed)
                    {
                        probes[tenant.Tenant] = dependency.Dependency;
                        limit = 1;
                        break;
                    }
                }
            }
            limits.Add((tenant.Tenant, limit));
        }
        return new FetchGate(limits, probes, nextProbe);
    }

    /// <summary>A claimed probe found no job of its tenant on this queue: let another queue's worker probe now.</summary>
    public Task UnclaimAsync(string tenant, string dependency) => store.UnclaimProbeAsync(tenant, dependency, Now());

    /// <summary>How long a job whose dependency failed waits before it runs again: grows with the tenant's failures in a row.</summary>
    public TimeSpan RetryDelay(string tenant, string dependency)
    {
        var streak = _streaks.TryGetValue((tenant, dependency), out var n) ? n : 1;
        var ms = Math.Min(Options.FirstProbeInterval.TotalMilliseconds * Math.Pow(2, Math.Min(streak - 1, 20)), Options.MaxProbeInterval.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>A job of <paramref name="tenant"/> failed because <paramref name="dependency"/> is unreachable.</summary>
    /// <param name="probe">The dependency the job was probing, or null when it was no probe.</param>
    public async Task DependencyFailedAsync(string tenant, string dependency, string cause, string? probe)
    {
        var streak = _streaks.AddOrUpdate((tenant, dependency), _ =>
        {
            Interlocked.Increment(ref _streakCount);
            return 1;
        }, (_, n) => n + 1);
        if (probe == dependency)
        {
            await store.ProbeFailedAsync(tenant, dependency, cause, Now(), Options.MaxProbeInterval);
            return;
        }
        if (probe is not null)
        {
            // The probed dependency answered; another one did not.
            await CloseAsync(tenant, probe);
        }
        if (streak < Options.CircuitThreshold || IsHeldFor(tenant, dependency))
        {
            return;
        }
        if (await store.TripAsync(tenant, dependency, cause, Now(), Options.FirstProbeInterval))
        {
            QueueLog.TenantHeld(_logger, tenant, dependency, streak, cause);
        }
        await RefreshAsync();
    }

    /// <summary>A job of <paramref name="tenant"/> ran without a dependency failure (completed, or failed for its own reasons).</summary>
    public async Task AnsweredAsync(string tenant, string? probe)
    {
        // Called for every job: the lock-free emptiness check keeps the common case (no failures) off the locks that
        // enumerating a ConcurrentDictionary takes.
        if (Volatile.Read(ref _streakCount) > 0)
        {
            foreach (var key in _streaks.Keys.Where(k => k.Tenant == tenant))
            {
                if (_streaks.TryRemove(key, out _))
                {
                    Interlocked.Decrement(ref _streakCount);
                }
            }
        }
        if (probe is not null)
        {
            await CloseAsync(tenant, probe);
        }
    }

    private async Task CloseAsync(string tenant, string dependency)
    {
        if (await store.ReleaseAsync(tenant, dependency, Now()))
        {
            QueueLog.TenantReleased(_logger, tenant, dependency);
        }
        await RefreshAsync();
    }

    private bool IsHeldFor(string tenant, string dependency) =>
        Current.TryGetValue(tenant, out var held) && held.Dependencies.Any(d => d.Dependency == dependency);

    private void Postpone(string tenant, string dependency, long untilMs)
    {
        var held = Current;
        if (!held.TryGetValue(tenant, out var t))
        {
            return;
        }
        var copy = new Dictionary<string, HeldTenant>(held, StringComparer.Ordinal)
        {
            [tenant] = t with { Dependencies = [.. t.Dependencies.Select(d => d.Dependency == dependency ? d with { NextProbeMs = untilMs } : d)] },
        };
        // A refresh that swapped in meanwhile is newer; keep it.
        Interlocked.CompareExchange(ref _held, copy, held);
    }
}
