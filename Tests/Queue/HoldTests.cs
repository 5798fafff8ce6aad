using Microsoft.Extensions.DependencyInjection;
using Queue;
using Queue.Server;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class HoldTests(TestServers servers)
{
    private static Task<QueueHost> WorkerAsync(RedisTestDatabase db, FakeTenantSettings settings, Func<Task>? handler = null) =>
        QueueHost.StartAsync(db, settings, s => s.AddQueue("wall", 4).AddHandler("job", (_, _, _) => handler?.Invoke() ?? Task.CompletedTask),
            serverOptions: o => o.SafetyPollInterval = TimeSpan.FromMilliseconds(200),
            services: s => s.AddJobQueueOperator());

    private static TenantCircuits Circuits(QueueHost host) => host.Services.GetRequiredService<TenantCircuits>();

    private static IJobQueueOperator Operator(QueueHost host) => host.Services.GetRequiredService<IJobQueueOperator>();

    private static Task<JobCounts> CountsAsync(QueueHost host, TenantId tenant) => Tenants.AsAsync(tenant, () => host.Admin.GetCountsAsync("wall"));

    private static Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(QueueHost host, TenantId tenant, int count) =>
        Tenants.AsAsync(tenant, () => host.Client.EnqueueBulkAsync("wall", [.. Enumerable.Range(0, count).Select(_ => new JobRequest("job", "{}"))]));

    [Fact]
    public async Task A_paused_tenants_jobs_wait_while_other_tenants_run_and_run_after_resume()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        TenantHoldResult paused;
        await using (var operatorOnly = await QueueHost.StartAsync(db, settings, services: s => s.AddJobQueueOperator()))
        {
            paused = await Operator(operatorOnly).PauseTenantAsync(Tenants.B, "maintenance of B's database");
        }
        await using var host = await WorkerAsync(db, settings);
        await EnqueueAsync(host, Tenants.B, 20);
        await EnqueueAsync(host, Tenants.A, 20);
        await Wait.UntilAsync(async () => (await CountsAsync(host, Tenants.A)).Completed == 20, "A's jobs completed");

        Assert.True(paused.Changed);
        Assert.Equal(new JobCounts(20, 0, 0, 0, 0), await CountsAsync(host, Tenants.B));

        var resumed = await Operator(host).ResumeTenantAsync(Tenants.B);
        Assert.True(resumed.Changed);
        Assert.False(resumed.Hold.IsHeld);
        await Wait.UntilAsync(async () => (await CountsAsync(host, Tenants.B)).Completed == 20, "B's jobs completed after resume");
        Assert.Equal(0, (await CountsAsync(host, Tenants.B)).Failed);
    }

    [Fact]
    public async Task A_pause_survives_a_worker_restart()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        await using (var first = await WorkerAsync(db, settings))
        {
            await Operator(first).PauseTenantAsync(Tenants.B);
        }
        await using var second = await WorkerAsync(db, settings);
        await EnqueueAsync(second, Tenants.B, 5);
        await EnqueueAsync(second, Tenants.A, 5);
        await Wait.UntilAsync(async () => (await CountsAsync(second, Tenants.A)).Completed == 5, "A's jobs completed");

        Assert.Equal(5, (await CountsAsync(second, Tenants.B)).Waiting);
        Assert.True((await Operator(second).GetTenantHoldAsync(Tenants.B)).IsPaused);
    }

    [Fact]
    public async Task Pausing_a_paused_tenant_is_a_no_op_that_says_so_and_keeps_the_first_reason()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await WorkerAsync(db, Tenants.Settings());
        var op = Operator(host);

        var first = await op.PauseTenantAsync(Tenants.B, "first");
        var again = await op.PauseTenantAsync(Tenants.B, "second");
        var resumeUnpaused = await op.ResumeTenantAsync(Tenants.A);

        Assert.True(first.Changed);
        Assert.False(again.Changed);
        var reason = Assert.Single(again.Hold.Reasons);
        Assert.Equal((TenantHoldKind.Paused, "first"), (reason.Kind, reason.Reason));
        Assert.Equal(first.Hold.Since, again.Hold.Since);
        Assert.False(resumeUnpaused.Changed);
        Assert.Equal(["tenant-b"], (await op.GetHoldsAsync()).Select(h => h.Tenant));
    }

    [Fact]
    public async Task Jobs_running_when_a_tenant_is_paused_finish()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var release = new TaskCompletionSource();
        var started = 0;
        await using var host = await WorkerAsync(db, Tenants.Settings(), async () =>
        {
            Interlocked.Increment(ref started);
            await release.Task;
        });
        await EnqueueAsync(host, Tenants.B, 2);
        await Wait.UntilAsync(() => Volatile.Read(ref started) == 2, "both jobs started");

        await Operator(host).PauseTenantAsync(Tenants.B);
        // The worker learns of the pause from its change message, a moment after the call returns.
        await Wait.UntilAsync(() => Circuits(host).Current.ContainsKey("tenant-b"), "the worker sees the pause");
        await EnqueueAsync(host, Tenants.B, 3);
        release.SetResult();

        await Wait.UntilAsync(async () => (await CountsAsync(host, Tenants.B)).Completed == 2, "the running jobs completed");
        await Task.Delay(500);
        Assert.Equal(new JobCounts(3, 0, 0, 2, 0), await CountsAsync(host, Tenants.B));
    }

    [Fact]
    public async Task The_tenant_admin_sees_its_own_hold_with_reason_and_time_and_no_other()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await WorkerAsync(db, Tenants.Settings());
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await Operator(host).PauseTenantAsync(Tenants.B, "invoice overdue");

        var b = await Tenants.AsAsync(Tenants.B, () => host.Admin.GetHoldAsync());
        var a = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetHoldAsync());

        Assert.True(b.IsPaused);
        var reason = Assert.Single(b.Reasons);
        Assert.Equal("invoice overdue", reason.Reason);
        Assert.InRange(reason.Since, before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.False(a.IsHeld);
        Assert.Equal("tenant-a", a.Tenant);
    }

    [Fact]
    public async Task Operator_counts_give_every_state_and_the_oldest_waiting_job_per_tenant_and_queue()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), services: s => s.AddJobQueueOperator());
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await EnqueueAsync(host, Tenants.A, 3);
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("wall", "job", "{}", new EnqueueOptions { Priority = 5 }));
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("wall", "job", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));

        var counts = await Operator(host).GetTenantCountsAsync(["wall", "other"], [Tenants.A, Tenants.B]);

        Assert.Equal(4, counts.Count);
        var a = counts.Single(c => c is { Queue: "wall", Tenant: "tenant-a" });
        Assert.Equal(new JobCounts(4, 0, 1, 0, 0), a.Counts);
        Assert.NotNull(a.OldestWaitingSince);
        Assert.InRange(a.OldestWaitingSince.Value, before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.All(counts.Where(c => c != a), c => Assert.Equal((new JobCounts(0, 0, 0, 0, 0), (DateTimeOffset?)null), (c.Counts, c.OldestWaitingSince)));
    }
}
