using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Workers;

/// <summary>Chaos on real servers: a tenant's database refuses connections for a while (rule 7).</summary>
public sealed class DatabaseOutageTests(TestServers servers)
{
    private const int JobsPerTenant = 150;

    [Fact]
    public async Task A_tenant_database_refusing_connections_ends_with_all_its_jobs_completed_once_and_none_failed()
    {
        var postgres = await servers.PostgresAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var a = await TestTenant.CreateAsync(postgres, "tenant-a");
        await using var b = await TestTenant.CreateAsync(postgres, "tenant-b");
        var userA = await a.AddUserAsync("ann@a.test", EmailPreference.DailyDigest);
        var userB = await b.AddUserAsync("bob@b.test", EmailPreference.DailyDigest);
        await using var workers = await WorkersHost.StartAsync(valkey, [a, b]);

        // B's database goes away under load: new connections are refused and open ones are cut.
        await postgres.ExecuteAsync($"ALTER DATABASE \"{b.Database.Name}\" ALLOW_CONNECTIONS false");
        await postgres.ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{b.Database.Name}'");
        await EnqueueAsync(workers, b, userB.Id);
        await EnqueueAsync(workers, a, userA.Id);

        await WaitAsync(() => Hold(workers, b), h => h.IsHeld, "B's jobs are held for its database");
        await WaitAsync(() => Counts(workers, a), c => c.Completed == JobsPerTenant, "A's jobs completed while B's database was down");
        var during = await Counts(workers, b);
        var hold = Assert.Single((await Hold(workers, b)).Reasons);

        await postgres.ExecuteAsync($"ALTER DATABASE \"{b.Database.Name}\" ALLOW_CONNECTIONS true");
        await WaitAsync(() => Counts(workers, b), c => c.Completed == JobsPerTenant, "B's jobs completed after its database returned", TimeSpan.FromSeconds(90));
        await WaitAsync(() => Hold(workers, b), h => !h.IsHeld, "B's hold is lifted");

        Assert.Equal(0, during.Failed);
        Assert.Equal((TenantHoldKind.DependencyUnreachable, "database"), (hold.Kind, hold.Dependency));
        Assert.Contains("not currently accepting connections", hold.Reason, StringComparison.Ordinal);
        Assert.Equal(0, (await Counts(workers, b)).Failed);
        Assert.Equal(0, (await Counts(workers, a)).Failed);
        await using var db = b.Db();
        Assert.Equal(JobsPerTenant, await db.Notifications.CountAsync());
        Assert.Equal(JobsPerTenant, await db.Notifications.Select(n => n.SourceJobId).Distinct().CountAsync());
    }

    private static async Task EnqueueAsync(WorkersHost workers, TestTenant tenant, long user)
    {
        using var scope = TenantScope.Begin(tenant.Id);
        var payload = System.Text.Json.JsonSerializer.Serialize(new CreateNotificationPayload([user], "results-recorded", "hello", null), System.Text.Json.JsonSerializerOptions.Web);
        await workers.Client.EnqueueBulkAsync(QueueNames.Notifications,
            [.. Enumerable.Range(0, JobsPerTenant).Select(_ => new JobRequest(global::Domain.Jobs.JobNames.CreateNotification, payload))]);
    }

    private static async Task<JobCounts> Counts(WorkersHost workers, TestTenant tenant)
    {
        using var scope = TenantScope.Begin(tenant.Id);
        return await workers.Admin.GetCountsAsync(QueueNames.Notifications);
    }

    private static async Task<TenantHold> Hold(WorkersHost workers, TestTenant tenant)
    {
        using var scope = TenantScope.Begin(tenant.Id);
        return await workers.Admin.GetHoldAsync();
    }

    private static async Task WaitAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Wait.Timeout);
        T value;
        while (!done(value = await read()))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}; last: {value}");
            }
            await Task.Delay(100);
        }
    }
}
