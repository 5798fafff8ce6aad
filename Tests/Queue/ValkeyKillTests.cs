using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Queue;
using StackExchange.Redis;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>Chaos on a real redis-server: killed with SIGKILL and restarted from its AOF (appendfsync always).</summary>
public sealed class ValkeyKillTests
{
    [Fact]
    public async Task Valkey_killed_and_restarted_with_an_always_fsynced_AOF_loses_no_acknowledged_job()
    {
        await using var redis = await KillableRedis.StartAsync("always");
        var settings = Tenants.Settings();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<global::Tenancy.ITenantSettingsStore>(settings);
        builder.Services.AddJobQueueClient(o => o.ConnectionString = redis.ConnectionString);
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IJobQueueClient>();
        var admin = host.Services.GetRequiredService<IJobQueueAdmin>();

        var acknowledged = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            acknowledged.Add((await Tenants.AsAsync(Tenants.A, () => client.EnqueueAsync("wall", "job", "{}"))).Id);
        }
        await redis.KillAsync();
        await redis.RestartAsync();

        await Wait.UntilAsync(async () =>
        {
            try
            {
                return (await Tenants.AsAsync(Tenants.A, () => admin.GetCountsAsync("wall"))).Waiting == acknowledged.Count;
            }
            catch (RedisException)
            {
                return false;
            }
        }, "every acknowledged job is back after the restart");
        var waiting = await Tenants.AsAsync(Tenants.A, () => admin.GetJobsAsync("wall", JobState.Waiting, 0, 1000));
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), waiting.Select(j => j.Id).Order(StringComparer.Ordinal));
        await host.StopAsync();
    }
}
