using Microsoft.Extensions.DependencyInjection;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>IJobQueueBacklog: the jobs waiting per queue over every tenant, the figure the workers are autoscaled on.</summary>
public sealed class BacklogTests(TestServers servers)
{
    private static Task<QueueHost> WorkerAsync(RedisTestDatabase db, string queue) =>
        QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue(queue, 2).AddHandler("job", (_, _, _) => Task.CompletedTask),
            serverOptions: o =>
            {
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
                o.SafetyPollInterval = TimeSpan.FromMilliseconds(200);
            },
            services: s => s.AddJobQueueOperator());

    private static Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(QueueHost host, TenantId tenant, string queue, int count, TimeSpan? delay = null) =>
        Tenants.AsAsync(tenant, () => host.Client.EnqueueBulkAsync(queue, [.. Enumerable.Range(0, count).Select(_ => new JobRequest("job", "{}", new EnqueueOptions { Delay = delay }))]));

    [Fact]
    public async Task The_backlog_is_the_total_of_jobs_waiting_over_all_tenants_and_follows_them()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "backlog-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await WorkerAsync(db, queue);
        var holds = host.Services.GetRequiredService<IJobQueueOperator>();
        var backlog = host.Services.GetRequiredService<IJobQueueBacklog>();
        // Held tenants' jobs stay waiting; a delayed job is not waiting.
        await holds.PauseTenantAsync(Tenants.A);
        await holds.PauseTenantAsync(Tenants.B);
        await EnqueueAsync(host, Tenants.A, queue, 3);
        await EnqueueAsync(host, Tenants.B, queue, 4);
        await EnqueueAsync(host, Tenants.C, queue, 1, TimeSpan.FromHours(1));

        await Wait.UntilAsync(async () => (await backlog.GetWaitingAsync([queue])).GetValueOrDefault(queue) == 7, "7 jobs waiting: A's 3 and B's 4");

        await holds.ResumeTenantAsync(Tenants.A);
        await Wait.UntilAsync(async () => (await backlog.GetWaitingAsync([queue])).GetValueOrDefault(queue) == 4, "A's jobs ran: B's 4 wait");
    }

    [Fact]
    public async Task A_queue_no_worker_reports_has_no_figure_rather_than_zero()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "backlog-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await WorkerAsync(db, queue);
        var backlog = host.Services.GetRequiredService<IJobQueueBacklog>();
        await Wait.UntilAsync(async () => (await backlog.GetWaitingAsync([queue])).ContainsKey(queue), "the reporter published the queue's figure");

        var figures = await backlog.GetWaitingAsync([queue, "nobody-works-this"]);

        Assert.Equal(0, figures[queue]);
        Assert.False(figures.ContainsKey("nobody-works-this"));
    }
}
