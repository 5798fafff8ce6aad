using System.Collections.Concurrent;
using Queue;
using Queue.Storage;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>The queue spread over a real Valkey Cluster (3 masters, 3 replicas) that the test creates.</summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private const int Shards = 3;
    private static readonly string[] TenantIds = [.. Enumerable.Range(1, 12).Select(i => $"tenant-{i}")];
    private ClusterRedis _cluster = null!;

    public async ValueTask InitializeAsync() => _cluster = await ClusterRedis.StartAsync(masters: 3, replicas: 1, TenantIds);

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    private static FakeTenantSettings Settings()
    {
        var settings = new FakeTenantSettings();
        foreach (var tenant in TenantIds)
        {
            settings.With(tenant);
        }
        return settings;
    }

    [Fact]
    public async Task Jobs_of_tenants_on_every_shard_run_once_each_and_every_master_serves_its_share()
    {
        var ran = new ConcurrentDictionary<string, int>();
        var before = await _cluster.CommandsPerMasterAsync();
        await using var worker = await QueueHost.StartAsync(_cluster.ConnectionString(ValkeyAcl.Workers), Settings(),
            s => s.AddQueue("emails", 8).AddHandler("n", (_, ctx, _) => Task.FromResult(ran.AddOrUpdate(ctx.Id, 1, (_, n) => n + 1))),
            // No safety poll within the test: the jobs run only if each shard's wake-up (sharded pub/sub, on the shard's
            // node) reaches the idle worker.
            serverOptions: o => o.SafetyPollInterval = TimeSpan.FromMinutes(10),
            options: o => (o.Shards, o.WaitForReplicas) = (Shards, 1));
        var layout = new QueueLayout("aq", Shards);
        Assert.Equal(3, TenantIds.Select(layout.ShardOf).Distinct().Count());

        var ids = new List<string>();
        foreach (var tenant in TenantIds)
        {
            // Each tenant enqueues as its own web app would: its own Valkey user.
            await using var web = await QueueHost.StartAsync(_cluster.ConnectionString(ValkeyAcl.WebUser(TenantId.Parse(tenant))), Settings(),
                options: o => (o.Shards, o.WaitForReplicas) = (Shards, 1));
            var results = await Tenants.AsAsync(TenantId.Parse(tenant), () => web.Client.EnqueueBulkAsync("emails", [.. Enumerable.Range(0, 50).Select(_ => new JobRequest("n", "{}"))]));
            ids.AddRange(results.Select(r => r.Id));
        }
        await Wait.UntilAsync(() => Task.FromResult(ids.All(ran.ContainsKey)), "every job runs");

        Assert.All(ids, id => Assert.Equal(1, ran[id]));
        var after = await _cluster.CommandsPerMasterAsync();
        var served = after.ToDictionary(m => m.Key, m => m.Value - before.GetValueOrDefault(m.Key));
        Assert.Equal(3, served.Count);
        Assert.All(served, m => Assert.True(m.Value > served.Values.Sum() / 10, $"master {m.Key} served {m.Value} of {served.Values.Sum()} commands"));
    }

    [Fact]
    public async Task A_master_killed_mid_drain_loses_no_acknowledged_job()
    {
        var ran = new ConcurrentDictionary<string, int>();
        var acknowledged = new ConcurrentBag<string>();
        await using var worker = await QueueHost.StartAsync(_cluster.ConnectionString(ValkeyAcl.Workers), Settings(),
            s => s.AddQueue("emails", 8, o => o.LeaseDuration = TimeSpan.FromSeconds(5)).AddHandler("n", async (_, ctx, cancellationToken) =>
            {
                await Task.Delay(2, cancellationToken);
                ran.AddOrUpdate(ctx.Id, 1, (_, n) => n + 1);
            }),
            options: o => (o.Shards, o.WaitForReplicas) = (Shards, 1));
        foreach (var tenant in TenantIds)
        {
            var results = await Tenants.AsAsync(TenantId.Parse(tenant), () => worker.Client.EnqueueBulkAsync("emails", [.. Enumerable.Range(0, 150).Select(_ => new JobRequest("n", "{}"))]));
            foreach (var result in results)
            {
                acknowledged.Add(result.Id);
            }
        }
        await Wait.UntilAsync(() => Task.FromResult(ran.Count >= acknowledged.Count / 4), "a quarter of the jobs run");

        // The master of the first tenant's shard dies without a word; its replica takes over after the node timeout.
        var victim = await _cluster.MasterOfAsync(new QueueLayout("aq", Shards).ShardFor("emails", TenantIds[0]).Ready);
        await _cluster.KillAsync(victim);
        await _cluster.WaitHealthyAsync(TimeSpan.FromSeconds(30));
        // Enqueues go on meanwhile; what the cluster acknowledged must run too. The shard whose master died has no replica
        // left, so its enqueues are refused as not replicated (a web app's outbox keeps them); the others' are acknowledged.
        var refused = 0;
        foreach (var tenant in TenantIds)
        {
            try
            {
                foreach (var result in await Tenants.AsAsync(TenantId.Parse(tenant), () => worker.Client.EnqueueBulkAsync("emails", [.. Enumerable.Range(0, 20).Select(_ => new JobRequest("n", "{}"))])))
                {
                    acknowledged.Add(result.Id);
                }
            }
            catch (JobQueueNotReplicatedException)
            {
                refused++;
            }
        }
        Assert.InRange(refused, 1, TenantIds.Length - 1);

        await Wait.UntilAsync(() => Task.FromResult(acknowledged.All(ran.ContainsKey)), "every acknowledged job runs", TimeSpan.FromSeconds(90));
        Assert.All(acknowledged, id => Assert.True(ran.ContainsKey(id), $"acknowledged job {id} never ran"));
    }
}
