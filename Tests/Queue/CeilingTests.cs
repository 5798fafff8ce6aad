using Microsoft.Extensions.DependencyInjection;
using Queue;
using Queue.Storage;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>The per-tenant ceiling of waiting and delayed jobs (KEYS.md, "The ceiling").</summary>
public sealed class CeilingTests(TestServers servers)
{
    [Fact]
    public async Task A_tenant_at_its_ceiling_is_refused_naming_it_while_the_others_enqueue_and_run_and_nothing_accepted_is_lost()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var ran = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
                .AddQueue("emails", 2).AddHandler("n", (_, ctx, _) =>
                {
                    ran.AddOrUpdate(ctx.Tenant!.Value.Value!, 1, (_, n) => n + 1);
                    return Task.CompletedTask;
                }),
            serverOptions: o => o.MaxWaitingPerTenant = 5,
            services: s => s.AddJobQueueOperator());
        var operatorApi = host.Services.GetRequiredService<IJobQueueOperator>();
        // Tenant A's jobs wait (its processing is paused) until it holds 5, its ceiling; 2 of them are delayed.
        await operatorApi.PauseTenantAsync(Tenants.A);
        var circuits = host.Services.GetRequiredService<global::Queue.Server.TenantCircuits>();
        await Wait.UntilAsync(() => Task.FromResult(circuits.Current.ContainsKey("tenant-a")), "the worker sees the pause");
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("emails", [.. Enumerable.Range(0, 3).Select(_ => new JobRequest("n", "{}"))]));
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("emails",
            [.. Enumerable.Range(0, 2).Select(_ => new JobRequest("n", "{}", new EnqueueOptions { Delay = TimeSpan.FromMilliseconds(300) }))]));

        var refused = await Assert.ThrowsAsync<JobQueueFullException>(() => Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "n", "{}")));

        Assert.Equal("Tenant tenant-a has 5 jobs waiting or delayed on queue 'emails'; its ceiling is 5 (QUEUE_MAX_WAITING_PER_TENANT), so 1 more were refused. " +
            "They can be enqueued again once some have run.", refused.Message);
        Assert.Equal((5, 5), (refused.Held, refused.Ceiling));
        var counts = await operatorApi.GetTenantCountsAsync(["emails"], [Tenants.A, Tenants.B]);
        Assert.Equal([true, false], [.. counts.Select(c => c.AtCeiling)]);
        Assert.Equal(5, await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCeilingAsync("emails")));

        // The others are not held back by A's ceiling.
        await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueBulkAsync("emails", [.. Enumerable.Range(0, 5).Select(_ => new JobRequest("n", "{}"))]));
        await Wait.UntilAsync(() => Task.FromResult(ran.GetValueOrDefault("tenant-b") == 5), "B's jobs run");

        // Everything A had been accepted runs once it may; then A has room again.
        await operatorApi.ResumeTenantAsync(Tenants.A);
        await Wait.UntilAsync(() => Task.FromResult(ran.GetValueOrDefault("tenant-a") == 5), "A's five accepted jobs run");
        Assert.True((await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "n", "{}"))).Added);
        await Wait.UntilAsync(() => Task.FromResult(ran.GetValueOrDefault("tenant-a") == 6), "and the next one too");
    }

    [Fact]
    public async Task A_bulk_that_would_pass_the_ceiling_is_refused_as_a_whole()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue("idle", 1).AddHandler("n", (_, _, _) => Task.CompletedTask),
            serverOptions: o => o.MaxWaitingPerTenant = 10);
        // No worker serves this queue here, but the workers recorded its ceiling when they started: 10.
        await using var other = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue("reports", 1).AddHandler("x", (_, _, _) => Task.CompletedTask),
            serverOptions: o => o.MaxWaitingPerTenant = 10);
        await other.StopAsync();
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("reports", [.. Enumerable.Range(0, 8).Select(_ => new JobRequest("x", "{}"))]));

        await Assert.ThrowsAsync<JobQueueFullException>(() =>
            Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("reports", [.. Enumerable.Range(0, 3).Select(_ => new JobRequest("x", "{}"))])));

        Assert.Equal(8, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("reports"))).Waiting);
    }
}
