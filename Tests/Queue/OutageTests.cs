using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>Rule 7: a tenant's unreachable dependency delays its jobs and holds its queue; it never uses attempts.</summary>
public sealed class OutageTests(TestServers servers)
{
    private sealed class Outage
    {
        public volatile bool Down = true;
    }

    private static Task<QueueHost> WorkerAsync(RedisTestDatabase db, Outage outage, int concurrency = 4) =>
        QueueHost.StartAsync(db, Tenants.Settings(), s => s
                .AddQueue("wall", concurrency, o => o.MaxAttempts = 2)
                .AddHandler("job", (_, ctx, _) => outage.Down && ctx.Tenant == Tenants.B
                    ? throw new InvalidOperationException("An exception has been raised that is likely due to a transient failure.", new SocketException((int)SocketError.ConnectionRefused))
                    : Task.CompletedTask)
                .AddHandler("broken", (_, _, _) => throw new InvalidOperationException("Something wrapped it.", new FormatException("column 'x' is not a number"))),
            serverOptions: o =>
            {
                o.SafetyPollInterval = TimeSpan.FromMilliseconds(200);
                o.FirstProbeInterval = TimeSpan.FromMilliseconds(50);
                o.MaxProbeInterval = TimeSpan.FromMilliseconds(400);
            },
            services: s => s.AddJobQueueOperator());

    private static Task<JobCounts> CountsAsync(QueueHost host, TenantId tenant) => Tenants.AsAsync(tenant, () => host.Admin.GetCountsAsync("wall"));

    private static Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(QueueHost host, TenantId tenant, int count, string name = "job") =>
        Tenants.AsAsync(tenant, () => host.Client.EnqueueBulkAsync("wall", [.. Enumerable.Range(0, count).Select(_ => new JobRequest(name, "{}"))]));

    [Fact]
    public async Task A_tenant_whose_dependency_is_down_is_held_uses_no_attempts_and_completes_everything_when_it_returns()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var outage = new Outage();
        await using var host = await WorkerAsync(db, outage);
        var op = host.Services.GetRequiredService<IJobQueueOperator>();

        await EnqueueAsync(host, Tenants.B, 40);
        await EnqueueAsync(host, Tenants.A, 40);
        await Wait.UntilAsync(async () => (await op.GetTenantHoldAsync(Tenants.B)).IsHeld, "B is held");
        await Wait.UntilAsync(async () => (await CountsAsync(host, Tenants.A)).Completed == 40, "A's jobs completed during B's outage");

        var hold = Assert.Single((await op.GetTenantHoldAsync(Tenants.B)).Reasons);
        Assert.Equal((TenantHoldKind.DependencyUnreachable, "network"), (hold.Kind, hold.Dependency));
        Assert.Contains("SocketException", hold.Reason, StringComparison.Ordinal);
        Assert.Equal(0, (await CountsAsync(host, Tenants.B)).Failed);
        Assert.True((await Tenants.AsAsync(Tenants.B, () => host.Admin.GetHoldAsync())).IsHeld);

        outage.Down = false;
        await Wait.UntilAsync(async () => (await CountsAsync(host, Tenants.B)).Completed == 40, "B's jobs completed after its dependency returned");
        await Wait.UntilAsync(async () => !(await op.GetTenantHoldAsync(Tenants.B)).IsHeld, "B's hold is lifted by the probe");

        Assert.Equal(0, (await CountsAsync(host, Tenants.B)).Failed);
        var completed = await Tenants.AsAsync(Tenants.B, () => host.Admin.GetJobsAsync("wall", JobState.Completed, 0, 100));
        Assert.All(completed, j => Assert.Equal(1, j.Attempts));
        Assert.Contains(host.Logs.Lines, l => l.StartsWith("Holding the jobs of tenant tenant-b: its network is unreachable", StringComparison.Ordinal));
        Assert.Contains("Released the jobs of tenant tenant-b: its network answers again", host.Logs.Lines);
    }

    [Fact]
    public async Task A_job_that_fails_for_good_names_its_root_cause_not_the_wrappers_text()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await WorkerAsync(db, new Outage());

        var id = (await EnqueueAsync(host, Tenants.A, 1, "broken"))[0].Id;
        await Wait.UntilAsync(async () => (await CountsAsync(host, Tenants.A)).Failed == 1, "the job failed for good");

        var job = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("wall", id));
        Assert.StartsWith("FormatException: column 'x' is not a number", job!.Error, StringComparison.Ordinal);
        Assert.Equal(2, job.Attempts);
        Assert.Equal(2, job.MaxAttempts);
    }
}
