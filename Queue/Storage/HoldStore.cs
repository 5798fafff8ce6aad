using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>A dependency hold as one worker sees it: what it holds for and when it may next be probed.</summary>
internal sealed record DependencyHold(string Dependency, string Cause, long SinceMs, long NextProbeMs);

/// <summary>A held tenant as workers cache it.</summary>
/// <param name="PauseJson">The operator's pause as stored, or null when not paused.</param>
internal sealed record HeldTenant(string Tenant, string? PauseJson, IReadOnlyList<DependencyHold> Dependencies)
{
    public bool Paused => PauseJson is not null;
}

/// <summary>
/// Tenant holds in Valkey (KEYS.md, "Holds"): one hash per held tenant under the hash tag <c>{holds}</c>, shared by
/// every queue, and a set naming the held tenants. Every change is one script call that publishes on the holds channel.
/// </summary>
internal sealed class HoldStore(QueueConnection connection, QueueStorage storage)
{
    private QueueLayout Layout => storage.Layout;

    public RedisChannel Channel => Layout.HoldsChannel;

    private sealed record PauseJson(string? Reason, long Since);

    private sealed record DependencyJson(string Cause, long Since);

    public Task<bool> PauseAsync(string tenant, string? reason, long nowMs) =>
        RunAsync("pause", tenant, nowMs, JsonSerializer.Serialize(new PauseJson(reason, nowMs), JsonSerializerOptions.Web));

    public Task<bool> ResumeAsync(string tenant, long nowMs) => RunAsync("resume", tenant, nowMs);

    public Task<bool> TripAsync(string tenant, string dependency, string cause, long nowMs, TimeSpan firstProbe) =>
        RunAsync("trip", tenant, nowMs, dependency, JsonSerializer.Serialize(new DependencyJson(cause, nowMs), JsonSerializerOptions.Web), Ms(firstProbe));

    public Task<bool> ClaimProbeAsync(string tenant, string dependency, long nowMs, TimeSpan claimFor) =>
        RunAsync("claim", tenant, nowMs, dependency, Ms(claimFor));

    public Task<bool> UnclaimProbeAsync(string tenant, string dependency, long nowMs) => RunAsync("unclaim", tenant, nowMs, dependency);

    public Task<bool> ProbeFailedAsync(string tenant, string dependency, string cause, long nowMs, TimeSpan maxInterval) =>
        RunAsync("again", tenant, nowMs, dependency, cause, Ms(maxInterval));

    public Task<bool> ReleaseAsync(string tenant, string dependency, long nowMs) => RunAsync("release", tenant, nowMs, dependency);

    public async Task<HeldTenant?> GetAsync(string tenant)
    {
        var db = await connection.DatabaseAsync();
        return Parse(tenant, await db.HashGetAllAsync(Layout.Hold(tenant)));
    }

    public async Task<IReadOnlyList<HeldTenant>> AllAsync()
    {
        var db = await connection.DatabaseAsync();
        var tenants = await db.SetMembersAsync(Layout.HeldSet);
        var batch = db.CreateBatch();
        var reads = tenants.Select(t => batch.HashGetAllAsync(Layout.Hold(t!))).ToArray();
        batch.Execute();
        var hashes = await Task.WhenAll(reads);
        return [.. tenants.Select((t, i) => Parse(t!, hashes[i])).OfType<HeldTenant>()];
    }

    private async Task<bool> RunAsync(string action, string tenant, long nowMs, params RedisValue[] rest)
    {
        var db = await connection.DatabaseAsync();
        RedisValue[] args = [Layout.HoldsChannelName, action, tenant, nowMs, .. rest];
        return (int)await FunctionLibrary.CallAsync(await connection.MultiplexerAsync(), db, "hold", [Layout.HeldSet, Layout.Hold(tenant)], args) == 1;
    }

    private static long Ms(TimeSpan span) => (long)span.TotalMilliseconds;

    private static HeldTenant? Parse(string tenant, HashEntry[] hash)
    {
        if (hash.Length == 0)
        {
            return null;
        }
        var fields = hash.ToDictionary(h => (string)h.Name!, h => (string)h.Value!, StringComparer.Ordinal);
        var dependencies = new List<DependencyHold>();
        foreach (var (name, value) in fields)
        {
            if (name.StartsWith("dep:", StringComparison.Ordinal))
            {
                var d = name[4..];
                var json = JsonSerializer.Deserialize<DependencyJson>(value, JsonSerializerOptions.Web)!;
                var probe = fields.TryGetValue("probe:" + d, out var p) ? long.Parse(p, CultureInfo.InvariantCulture) : 0;
                dependencies.Add(new DependencyHold(d, json.Cause, json.Since, probe));
            }
        }
        dependencies.Sort((a, b) => string.CompareOrdinal(a.Dependency, b.Dependency));
        return new HeldTenant(tenant, fields.GetValueOrDefault("pause"), dependencies);
    }

    /// <summary>The public view of a tenant's hold.</summary>
    public static TenantHold ToHold(string tenant, HeldTenant? held)
    {
        if (held is null)
        {
            return TenantHold.None(tenant);
        }
        var reasons = new List<TenantHoldReason>();
        if (held.PauseJson is { } pauseJson)
        {
            var pause = JsonSerializer.Deserialize<PauseJson>(pauseJson, JsonSerializerOptions.Web)!;
            reasons.Add(new TenantHoldReason(TenantHoldKind.Paused, null, pause.Reason, DateTimeOffset.FromUnixTimeMilliseconds(pause.Since)));
        }
        reasons.AddRange(held.Dependencies.Select(d => new TenantHoldReason(
            TenantHoldKind.DependencyUnreachable, d.Dependency, d.Cause,
            DateTimeOffset.FromUnixTimeMilliseconds(d.SinceMs), DateTimeOffset.FromUnixTimeMilliseconds(d.NextProbeMs))));
        return new TenantHold(tenant, reasons);
    }
}
