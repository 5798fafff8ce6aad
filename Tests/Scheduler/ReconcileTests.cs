using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Queue;
using Scheduler.Reconciliation;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Scheduler;

public sealed class ReconcileTests(TestServers servers)
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_tenant_gets_its_forecast_and_digest_jobs_in_its_time_zone()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var app = Build(valkey, Tenants(("tenant-a", null), ("tenant-b", "Europe/Berlin")));

        var report = await app.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Equal(4, report.Upserted.Count);
        var forecasts = await app.Inventory.ListAsync("forecast-updates");
        var digests = await app.Inventory.ListAsync("notifications");
        Assert.Equal(["update-all-cases-forecast-tenant-a", "update-all-cases-forecast-tenant-b"], forecasts.Select(e => e.Id).Order());
        Assert.Equal(["send-daily-digest-tenant-a", "send-daily-digest-tenant-b"], digests.Select(e => e.Id).Order());
        using (TenantScope.Begin(TenantId.Parse("tenant-b")))
        {
            var definition = Assert.Single(await app.Recurring.ListAsync("forecast-updates"));
            Assert.Equal("0 3 * * *", definition.Cron);
            Assert.Equal("Europe/Berlin", definition.TimeZone);
            Assert.Equal("update-all-cases-forecast", definition.JobName);
        }
        using (TenantScope.Begin(TenantId.Parse("tenant-a")))
        {
            Assert.Equal("0 8 * * *", Assert.Single(await app.Recurring.ListAsync("notifications")).Cron);
        }
    }

    [Fact]
    public async Task A_second_reconcile_changes_nothing()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var app = Build(valkey, Tenants(("tenant-a", null)));
        await app.Reconciler.ReconcileAsync(CancellationToken.None);

        var again = await app.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.False(again.Changed);
        Assert.Equal(2, again.Unchanged.Count);
    }

    [Fact]
    public async Task Jobs_of_a_tenant_no_longer_configured_are_removed_and_others_kept()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using (var before = Build(valkey, Tenants(("tenant-a", null), ("tenant-b", null))))
        {
            await before.Reconciler.ReconcileAsync(CancellationToken.None);
        }
        await using var after = Build(valkey, Tenants(("tenant-a", null)));

        var report = await after.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Equal(2, report.Removed.Count);
        Assert.All(report.Removed, line => Assert.Contains("tenant-b", line, StringComparison.Ordinal));
        var remaining = (await after.Inventory.ListAsync("forecast-updates")).Concat(await after.Inventory.ListAsync("notifications"));
        Assert.All(remaining, e => Assert.Equal(TenantId.Parse("tenant-a"), e.Tenant));
    }

    [Fact]
    public async Task Switching_to_multi_tenant_removes_the_single_tenant_names()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using (var single = Build(valkey, [("DATABASE_URL", "postgresql://u:p@db/app")]))
        {
            await single.Reconciler.ReconcileAsync(CancellationToken.None);
            Assert.Contains(await single.Inventory.ListAsync("forecast-updates"), e => e.Tenant is null && e.Id == "update-all-cases-forecast");
        }
        await using var multi = Build(valkey, Tenants(("tenant-a", null)));

        var report = await multi.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Contains(report.Removed, line => line.Contains("forecast-updates/update-all-cases-forecast (single-tenant)", StringComparison.Ordinal));
        Assert.Contains(report.Removed, line => line.Contains("notifications/send-daily-digest (single-tenant)", StringComparison.Ordinal));
        Assert.DoesNotContain(await multi.Inventory.ListAsync("notifications"), e => e.Tenant is null);
    }

    [Fact]
    public async Task Two_schedulers_reconciling_at_once_leave_each_job_once()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var tenants = Tenants(("tenant-a", null), ("tenant-b", null), ("tenant-c", null));
        await using var first = Build(valkey, tenants);
        await using var second = Build(valkey, tenants);

        await Task.WhenAll(
            Task.Run(() => first.Reconciler.ReconcileAsync(CancellationToken.None)),
            Task.Run(() => second.Reconciler.ReconcileAsync(CancellationToken.None)));

        var forecasts = await first.Inventory.ListAsync("forecast-updates");
        Assert.Equal(3, forecasts.Count);
        Assert.Equal(3, forecasts.Select(e => e.Tenant).Distinct().Count());
        Assert.False((await first.Reconciler.ReconcileAsync(CancellationToken.None)).Changed);
    }

    [Fact]
    public async Task Staggering_spreads_tenants_within_the_window_and_is_stable()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var configuration = Tenants([.. Enumerable.Range(1, 12).Select(i => ($"tenant-{i}", (string?)null))]);
        await using var app = Build(valkey, [.. configuration, ("SCHEDULER_STAGGER_MINUTES", "60")]);

        var desired = app.Reconciler.Desired().Where(d => d.Queue == "forecast-updates").ToList();
        var again = app.Reconciler.Desired().Where(d => d.Queue == "forecast-updates").ToList();

        Assert.All(desired, d => Assert.Matches("^[0-9]{1,2} 3 \\* \\* \\*$", d.Cron));
        Assert.True(desired.Select(d => d.Cron).Distinct().Count() > 1, "Twelve tenants in a 60-minute window should not all start at one minute.");
        Assert.Equal(desired.Select(d => d.Cron), again.Select(d => d.Cron));
    }

    [Fact]
    public async Task The_scheduler_process_prints_what_it_changed_and_exits_zero()
    {
        var redis = await servers.RedisAsync();
        await using var valkey = await redis.CreateDatabaseAsync();
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__valkey"] = valkey.ConnectionString,
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["tenant-a"] = new { databaseUrl = "postgresql://u:p@127.0.0.1:1/a", signingKey = "key-a" },
            }),
        };

        await using var first = ServiceHost.Start("Scheduler", environment);
        Assert.True(await first.WaitForExitAsync(ProcessTimeout), first.Output);
        await using var second = ServiceHost.Start("Scheduler", environment);
        Assert.True(await second.WaitForExitAsync(ProcessTimeout), second.Output);

        Assert.Equal(0, first.ExitCode);
        Assert.Contains("Upserted recurring job forecast-updates/update-all-cases-forecast-tenant-a", first.Output, StringComparison.Ordinal);
        Assert.Contains("Reconciled recurring jobs: 2 upserted, 0 removed, 0 unchanged", first.Output, StringComparison.Ordinal);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("Reconciled recurring jobs: 0 upserted, 0 removed, 2 unchanged", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watching_reconciles_again_when_the_tenant_file_changes()
    {
        var redis = await servers.RedisAsync();
        await using var valkey = await redis.CreateDatabaseAsync();
        var directory = Directory.CreateTempSubdirectory("scheduler-watch-");
        try
        {
            var file = Path.Combine(directory.FullName, "tenants.json");
            await File.WriteAllTextAsync(file, """{ "tenant-a": { "databaseUrl": "postgresql://u:p@127.0.0.1:1/a", "signingKey": "a" } }""");
            await using var service = ServiceHost.Start("Scheduler", new Dictionary<string, string?>
            {
                ["ConnectionStrings__valkey"] = valkey.ConnectionString,
                ["MULTI_TENANT_MODE"] = "true",
                ["TENANT_CONFIG_FILE"] = file,
            }, "--watch");
            await service.WaitUntilHealthyAsync(ProcessTimeout);

            await File.WriteAllTextAsync(file, """
                { "tenant-a": { "databaseUrl": "postgresql://u:p@127.0.0.1:1/a", "signingKey": "a" },
                  "tenant-b": { "databaseUrl": "postgresql://u:p@127.0.0.1:1/b", "signingKey": "b" } }
                """);

            await using var app = Build(valkey, Tenants(("tenant-a", null)));
            await Eventually(async () => (await app.Inventory.ListAsync("notifications")).Any(e => e.Id == "send-daily-digest-tenant-b"), service);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task Eventually(Func<Task<bool>> condition, ServiceHost service)
    {
        var deadline = DateTime.UtcNow + ProcessTimeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold in time:\n" + service.Output);
            await Task.Delay(100);
        }
    }

    private static (string Key, string? Value)[] Tenants(params (string Id, string? TimeZone)[] tenants) =>
    [
        ("MULTI_TENANT_MODE", "true"),
        ("TENANT_CONFIGS", JsonSerializer.Serialize(tenants.ToDictionary(t => t.Id, t => new
        {
            databaseUrl = $"postgresql://u:p@127.0.0.1:1/{t.Id}",
            signingKey = "key-" + t.Id,
            timeZone = t.TimeZone,
        }))),
    ];

    private static SchedulerApp Build(RedisTestDatabase valkey, (string Key, string? Value)[] configuration)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(configuration.Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)))
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(config);
        services.AddLogging();
        services.AddTenancy();
        services.AddJobQueueClient(o => o.ConnectionString = valkey.ConnectionString);
        services.AddOptions<SchedulerOptions>().Bind(config);
        services.AddSingleton<RecurringJobReconciler>();
        return new SchedulerApp(services.BuildServiceProvider());
    }

    private sealed class SchedulerApp(ServiceProvider provider) : IAsyncDisposable
    {
        public RecurringJobReconciler Reconciler => provider.GetRequiredService<RecurringJobReconciler>();
        public IRecurringJobInventory Inventory => provider.GetRequiredService<IRecurringJobInventory>();
        public IRecurringJobClient Recurring => provider.GetRequiredService<IRecurringJobClient>();

        public ValueTask DisposeAsync() => provider.DisposeAsync();
    }
}
