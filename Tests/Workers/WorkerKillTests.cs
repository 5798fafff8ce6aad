using System.Diagnostics;
using System.Text.Json;
using Domain.Jobs;
using JobNames = Domain.Jobs.JobNames;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Workers;

/// <summary>
/// Chaos on real processes: the Workers deployment killed with SIGKILL while it runs a tenant's jobs. The jobs it had
/// leased stay active until their lease runs out, then a new Workers process takes them; none is lost or done twice.
/// </summary>
public sealed class WorkerKillTests(TestServers servers)
{
    private const int Jobs = 400;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_workers_process_killed_mid_run_loses_no_job_and_its_successor_completes_each_once()
    {
        var postgres = await servers.PostgresAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(postgres, "tenant-a");
        var user = await tenant.AddUserAsync("ann@a.test", EmailPreference.DailyDigest);
        var configs = JsonSerializer.Serialize(new Dictionary<string, object> { [tenant.Id.Value] = tenant.Settings() });
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__valkey"] = valkey.ConnectionString,
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = configs,
            ["SMTP_HOST"] = "127.0.0.1",
            ["SMTP_PORT"] = "1",
            ["SMTP_SECURITY"] = "None",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        await using var client = Client(valkey.ConnectionString, configs);
        var queue = client.GetRequiredService<IJobQueueClient>();
        var admin = client.GetRequiredService<IJobQueueAdmin>();
        var payload = JsonSerializer.Serialize(new CreateNotificationPayload([user.Id], "kill", "hello", null), JsonSerializerOptions.Web);
        using (TenantScope.Begin(tenant.Id))
        {
            await queue.EnqueueBulkAsync(QueueNames.Notifications, [.. Enumerable.Range(0, Jobs).Select(_ => new JobRequest(JobNames.CreateNotification, payload))]);
        }

        long doneAtKill;
        JobCounts countsAtKill;
        await using (var first = ServiceHost.Start("Workers", environment))
        {
            await first.WaitUntilHealthyAsync(StartTimeout);
            await Wait.UntilAsync(async () => await NotificationsAsync(tenant) >= Jobs / 10, "the first workers process is running the jobs");
            using (var process = Process.GetProcessById(first.ProcessId))
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
            doneAtKill = await NotificationsAsync(tenant);
            countsAtKill = await CountsAsync(admin, tenant);
        }

        await using var second = ServiceHost.Start("Workers", environment);
        await second.WaitUntilHealthyAsync(StartTimeout);
        // The dead process's leases run out (30 s) before its jobs can be taken again; bounded, never timed.
        var deadline = Stopwatch.StartNew();
        JobCounts counts;
        while ((counts = await CountsAsync(admin, tenant)).Completed < Jobs && deadline.Elapsed < TimeSpan.FromSeconds(150))
        {
            Assert.False(second.HasExited, second.Output);
            await Task.Delay(250);
        }

        Assert.InRange(doneAtKill, Jobs / 10, Jobs - 1);
        Assert.True(countsAtKill.Active > 0, $"jobs were leased when the process died: {countsAtKill}");
        Assert.Equal(((long)Jobs, 0L, 0L, 0L, 0L), (counts.Completed, counts.Failed, counts.Waiting, counts.Active, counts.Delayed));
        await using var db = tenant.Db();
        Assert.Equal(Jobs, await db.Notifications.CountAsync());
        Assert.Equal(Jobs, await db.Notifications.Select(n => n.SourceJobId).Distinct().CountAsync());
    }

    private static async Task<long> NotificationsAsync(TestTenant tenant)
    {
        await using var db = tenant.Db();
        return await db.Notifications.LongCountAsync();
    }

    private static async Task<JobCounts> CountsAsync(IJobQueueAdmin admin, TestTenant tenant)
    {
        using var scope = TenantScope.Begin(tenant.Id);
        return await admin.GetCountsAsync(QueueNames.Notifications);
    }

    private static ServiceProvider Client(string valkey, string configs)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = configs,
        }).Build());
        services.AddTenancy();
        services.AddJobQueueClient(o => o.ConnectionString = valkey);
        return services.BuildServiceProvider();
    }
}
