using Queue;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>Rule 6: a single-tenant worker beside a shared Valkey never takes (or fails) a tenant's job.</summary>
public sealed class SingleTenantWorkerTests(TestServers servers)
{
    [Fact]
    public async Task A_single_tenant_worker_runs_tenantless_jobs_and_leaves_a_waiting_tenant_job_unfailed()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenantClient = await QueueHost.StartAsync(db, Tenants.Settings());
        var tenantJob = await Tenants.AsAsync(Tenants.A, () => tenantClient.Client.EnqueueAsync("wall", "job", "{}"));

        await using var single = await QueueHost.StartAsync(db, new FakeTenantSettings(multiTenant: false),
            s => s.AddQueue("wall", 2).AddHandler("job", (_, _, _) => Task.CompletedTask));
        var own = await single.Client.EnqueueAsync("wall", "job", "{}");
        await Wait.UntilAsync(async () => (await single.Admin.GetJobAsync("wall", own.Id))?.State == JobState.Completed, "the tenantless job completed");

        var job = await Tenants.AsAsync(Tenants.A, () => tenantClient.Admin.GetJobAsync("wall", tenantJob.Id));
        Assert.Equal((JobState.Waiting, 0, null), (job!.State, job.Attempts, job.Error));
        Assert.Equal(new JobCounts(1, 0, 0, 0, 0), await Tenants.AsAsync(Tenants.A, () => tenantClient.Admin.GetCountsAsync("wall")));
    }
}
