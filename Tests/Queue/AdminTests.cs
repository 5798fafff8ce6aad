using Microsoft.Extensions.Time.Testing;
using Queue;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class AdminTests(TestServers servers)
{
    /// <summary>Tenant A ends with one job in each state: completed, failed, delayed and waiting.</summary>
    private static async Task<(string Completed, string Failed, string Delayed, string Waiting)> SeedTenantAAsync(RedisTestDatabase db, FakeTenantSettings settings)
    {
        await using var host = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("wall", 1)
            .AddHandler("ok", (_, _, _) => Task.CompletedTask)
            .AddHandler("bad", (_, _, _) => throw new PermanentJobFailureException("bad job")));
        var completed = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("wall", "ok", "{}"));
        var failed = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("wall", "bad", "{}"));
        var delayed = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("wall", "ok", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));
        await Wait.UntilAsync(async () => await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("wall")) is { Completed: 1, Failed: 1 }, "A's jobs finished");
        await host.StopAsync();
        var waiting = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("wall", "ok", "{}"));
        return (completed.Id, failed.Id, delayed.Id, waiting.Id);
    }

    [Fact]
    public async Task Another_tenant_can_neither_see_nor_act_on_a_tenants_jobs_even_with_their_ids()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var a = await SeedTenantAAsync(db, settings);
        await using var host = await QueueHost.StartAsync(db, settings);
        var admin = host.Admin;

        await Tenants.AsAsync(Tenants.B, async () =>
        {
            Assert.Equal(new JobCounts(0, 0, 0, 0, 0), await admin.GetCountsAsync("wall"));
            foreach (var state in Enum.GetValues<JobState>())
            {
                Assert.Empty(await admin.GetJobsAsync("wall", state));
            }
            foreach (var id in new[] { a.Completed, a.Failed, a.Delayed, a.Waiting })
            {
                Assert.Null(await admin.GetJobAsync("wall", id));
                Assert.False(await admin.RemoveAsync("wall", id));
            }
            Assert.False(await admin.RetryAsync("wall", a.Failed));
            Assert.False(await admin.PromoteAsync("wall", a.Delayed));
            Assert.Equal(0, await admin.CleanAsync("wall", JobState.Completed, TimeSpan.Zero));
            Assert.Equal(0, await admin.CleanAsync("wall", JobState.Failed, TimeSpan.Zero));
            return 0;
        });

        Assert.Equal(new JobCounts(1, 0, 1, 1, 1), await Tenants.AsAsync(Tenants.A, () => admin.GetCountsAsync("wall")));
    }

    [Fact]
    public async Task A_tenant_pages_its_jobs_by_state_and_sees_one_jobs_details()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var a = await SeedTenantAAsync(db, settings);
        await using var host = await QueueHost.StartAsync(db, settings);

        var failed = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobsAsync("wall", JobState.Failed));
        var waiting = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobsAsync("wall", JobState.Waiting));
        var delayed = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("wall", a.Delayed));

        var f = Assert.Single(failed);
        Assert.Equal((a.Failed, "bad", "bad job", 1, "tenant-a"), (f.Id, f.Name, f.Error, f.Attempts, f.Tenant));
        Assert.NotNull(f.StartedAt);
        Assert.NotNull(f.FinishedAt);
        Assert.Contains("PermanentJobFailureException", f.StackTrace, StringComparison.Ordinal);
        Assert.Equal(a.Waiting, Assert.Single(waiting).Id);
        Assert.Equal(JobState.Delayed, delayed!.State);
        Assert.NotNull(delayed.DueAt);
    }

    [Fact]
    public async Task A_tenant_retries_a_failed_job_promotes_a_delayed_one_removes_and_cleans_its_own()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var a = await SeedTenantAAsync(db, settings);
        await using var host = await QueueHost.StartAsync(db, settings);
        var admin = host.Admin;

        await Tenants.AsAsync(Tenants.A, async () =>
        {
            Assert.True(await admin.RetryAsync("wall", a.Failed));
            Assert.True(await admin.PromoteAsync("wall", a.Delayed));
            Assert.Equal(new JobCounts(3, 0, 0, 1, 0), await admin.GetCountsAsync("wall"));
            var retried = await admin.GetJobAsync("wall", a.Failed);
            Assert.Equal((JobState.Waiting, 0, (string?)null), (retried!.State, retried.Attempts, retried.Error));

            Assert.True(await admin.RemoveAsync("wall", a.Waiting));
            Assert.Null(await admin.GetJobAsync("wall", a.Waiting));
            Assert.Equal(1, await admin.CleanAsync("wall", JobState.Completed, TimeSpan.Zero));
            Assert.Null(await admin.GetJobAsync("wall", a.Completed));
            Assert.Equal(new JobCounts(2, 0, 0, 0, 0), await admin.GetCountsAsync("wall"));
            return 0;
        });
    }

    [Fact]
    public async Task Progress_reported_by_a_running_job_is_visible_from_the_admin_api()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var release = new TaskCompletionSource();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("imports", 1)
            .AddHandler("import", async (_, ctx, _) =>
            {
                await ctx.ReportProgressAsync(new { Percent = 40, Stage = "cases" });
                await release.Task;
            }));
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("imports", "import", "{}"));

        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("imports", job.Id)))?.Progress is not null, "progress is reported");
        var detail = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("imports", job.Id));
        release.SetResult();

        Assert.Equal(JobState.Active, detail!.State);
        Assert.Equal("{\"percent\":40,\"stage\":\"cases\"}", detail.Progress);
    }

    [Fact]
    public async Task The_admin_api_reports_the_concurrency_of_the_running_workers()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        await using var first = await QueueHost.StartAsync(db, settings, s => s.AddQueue("emails", 3, o => o.PerTenantConcurrency = 2).AddHandler("n", (_, _, _) => Task.CompletedTask),
            serverOptions: o => o.WorkerId = "worker-1");
        await using var second = await QueueHost.StartAsync(db, settings, s => s.AddQueue("emails", 2).AddHandler("n", (_, _, _) => Task.CompletedTask),
            serverOptions: o => o.WorkerId = "worker-2");

        var both = await Tenants.AsAsync(Tenants.A, () => first.Admin.GetConcurrencyAsync("emails"));
        await second.StopAsync();
        var one = await Tenants.AsAsync(Tenants.A, () => first.Admin.GetConcurrencyAsync("emails"));

        Assert.Equal(5, both.TotalConcurrency);
        Assert.Equal([("worker-1", 3, 2), ("worker-2", 2, 0)], both.Workers.Select(w => (w.WorkerId, w.Concurrency, w.PerTenantConcurrency)));
        Assert.Equal(3, one.TotalConcurrency);
    }

    [Fact]
    public async Task A_worker_that_stops_heartbeating_drops_out_of_the_concurrency_report()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), time: time);
        var expires = time.GetUtcNow().AddSeconds(30).ToUnixTimeMilliseconds();
        await host.Storage.HeartbeatAsync("emails", "crashed-worker", $"{{\"concurrency\":4,\"perTenantConcurrency\":0,\"expiresMs\":{expires}}}");

        var before = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetConcurrencyAsync("emails"));
        time.Advance(TimeSpan.FromSeconds(31));
        var after = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetConcurrencyAsync("emails"));

        Assert.Equal(4, before.TotalConcurrency);
        Assert.Equal(0, after.TotalConcurrency);
        Assert.Empty(after.Workers);
    }
}

public sealed class RetentionTests(TestServers servers)
{
    [Fact]
    public async Task Completed_jobs_beyond_the_kept_count_are_removed_oldest_first()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("kept", 1, o => o.CompletedKeepCount = 3)
            .AddHandler("n", (_, _, _) => Task.CompletedTask));
        var ids = new List<string>();

        for (var i = 0; i < 5; i++)
        {
            var id = (await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("kept", "n", "{}"))).Id;
            ids.Add(id);
            await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("kept", id)))?.State == JobState.Completed, $"job {i} completed");
        }

        var kept = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobsAsync("kept", JobState.Completed));
        Assert.Equal(ids.Skip(2).Reverse(), kept.Select(j => j.Id));
    }

    [Fact]
    public async Task Finished_jobs_older_than_the_maximum_age_are_removed_for_that_tenant_only()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("aged", 1, o =>
            {
                o.CompletedMaxAge = TimeSpan.FromHours(1);
                o.FailedMaxAge = TimeSpan.FromHours(1);
            })
            .AddHandler("ok", (_, _, _) => Task.CompletedTask)
            .AddHandler("bad", (_, _, _) => throw new PermanentJobFailureException("no")), time: time);
        async Task<string> RunAsync(global::Tenancy.TenantId tenant, string name)
        {
            var id = (await Tenants.AsAsync(tenant, () => host.Client.EnqueueAsync("aged", name, "{}"))).Id;
            await Wait.UntilAsync(async () => (await Tenants.AsAsync(tenant, () => host.Admin.GetJobAsync("aged", id)))?.State is JobState.Completed or JobState.Failed, "finished");
            return id;
        }

        var oldOk = await RunAsync(Tenants.A, "ok");
        var oldBad = await RunAsync(Tenants.A, "bad");
        var otherTenants = await RunAsync(Tenants.B, "ok");
        time.Advance(TimeSpan.FromHours(2));
        var newOk = await RunAsync(Tenants.A, "ok");
        var newBad = await RunAsync(Tenants.A, "bad");

        Assert.Null(await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("aged", oldOk)));
        Assert.Null(await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("aged", oldBad)));
        Assert.NotNull(await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("aged", newOk)));
        Assert.NotNull(await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("aged", newBad)));
        Assert.NotNull(await Tenants.AsAsync(Tenants.B, () => host.Admin.GetJobAsync("aged", otherTenants)));
    }
}

public sealed class ShutdownTests(TestServers servers)
{
    [Fact]
    public async Task Shutdown_hands_unfinished_jobs_back_at_once_instead_of_waiting_for_the_lease()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var started = new TaskCompletionSource();
        var host = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("long", 1, o => o.LeaseDuration = TimeSpan.FromHours(1))
            .AddHandler("n", async (_, _, ct) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }), serverOptions: o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(200));
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("long", "n", "{}"));
        await started.Task.WaitAsync(Wait.Timeout);

        await host.DisposeAsync();

        await using var observer = await QueueHost.StartAsync(db, settings);
        var detail = await Tenants.AsAsync(Tenants.A, () => observer.Admin.GetJobAsync("long", job.Id));
        Assert.Equal((JobState.Waiting, 0), (detail!.State, detail.Attempts));
        Assert.Equal(new JobCounts(1, 0, 0, 0, 0), await Tenants.AsAsync(Tenants.A, () => observer.Admin.GetCountsAsync("long")));
    }

    [Fact]
    public async Task Shutdown_hands_back_jobs_fetched_ahead_that_never_started()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var started = new TaskCompletionSource();
        await using (var producer = await QueueHost.StartAsync(db, settings))
        {
            await Tenants.AsAsync(Tenants.A, () => producer.Client.EnqueueBulkAsync("ahead", [new JobRequest("n", "{}"), new JobRequest("n", "{}"), new JobRequest("n", "{}")]));
        }
        var host = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("ahead", 1, o =>
            {
                o.Prefetch = 2;
                o.LeaseDuration = TimeSpan.FromHours(1);
            })
            .AddHandler("n", async (_, _, ct) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }), serverOptions: o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(100));
        await started.Task.WaitAsync(Wait.Timeout);
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("ahead"))).Active == 3, "all three are leased");

        await host.DisposeAsync();

        await using var observer = await QueueHost.StartAsync(db, settings);
        Assert.Equal(new JobCounts(3, 0, 0, 0, 0), await Tenants.AsAsync(Tenants.A, () => observer.Admin.GetCountsAsync("ahead")));
    }

    [Fact]
    public async Task Shutdown_hands_back_a_job_whose_handler_ignores_cancellation()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var started = new TaskCompletionSource();
        var never = new TaskCompletionSource();
        var host = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("stubborn", 1, o => o.LeaseDuration = TimeSpan.FromHours(1))
            .AddHandler("n", async (_, _, _) =>
            {
                started.TrySetResult();
                await never.Task;
            }), serverOptions: o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(100));
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("stubborn", "n", "{}"));
        await started.Task.WaitAsync(Wait.Timeout);

        await host.DisposeAsync();
        never.SetResult();

        await using var observer = await QueueHost.StartAsync(db, settings);
        Assert.Equal(JobState.Waiting, (await Tenants.AsAsync(Tenants.A, () => observer.Admin.GetJobAsync("stubborn", job.Id)))!.State);
    }

    [Fact]
    public async Task Shutdown_lets_a_job_that_finishes_within_the_timeout_complete()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        var started = new TaskCompletionSource();
        var host = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("short", 1)
            .AddHandler("n", async (_, _, _) =>
            {
                started.TrySetResult();
                await Task.Delay(300, CancellationToken.None);
            }), serverOptions: o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("short", "n", "{}"));
        await started.Task.WaitAsync(Wait.Timeout);

        await host.DisposeAsync();

        await using var observer = await QueueHost.StartAsync(db, settings);
        Assert.Equal(JobState.Completed, (await Tenants.AsAsync(Tenants.A, () => observer.Admin.GetJobAsync("short", job.Id)))!.State);
    }
}
