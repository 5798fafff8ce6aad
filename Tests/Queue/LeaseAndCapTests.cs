using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Queue;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class LeaseAndCapTests(TestServers servers)
{
    [Fact]
    public async Task A_job_running_longer_than_its_lease_keeps_it_by_renewal()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var runs = 0;
        var release = new TaskCompletionSource();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("long", 2, o => o.LeaseDuration = TimeSpan.FromSeconds(30))
            .AddHandler("n", async (_, _, _) =>
            {
                Interlocked.Increment(ref runs);
                await release.Task;
            }), time: time);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("long", "n", "{}"));
        await Wait.UntilAsync(() => Volatile.Read(ref runs) == 1, "the job starts");

        // Two minutes of job time, in steps well inside the renewal interval (a third of the lease).
        for (var i = 0; i < 24; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(50);
        }
        var detail = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("long", job.Id));
        release.SetResult();

        Assert.Equal(1, runs);
        Assert.Equal((JobState.Active, 0), (detail!.State, detail.Stalls));
    }

    [Fact]
    public async Task Short_jobs_are_fetched_ahead_up_to_four_times_the_concurrency_and_jobs_after_long_ones_are_not()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var gate = new TaskCompletionSource();
        var started = 0;
        var finished = 0;
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("ahead", 1)
            .AddHandler("n", async (_, ctx, _) =>
            {
                if (ctx.PayloadJson == "\"block\"")
                {
                    Interlocked.Increment(ref started);
                    await Volatile.Read(ref gate).Task;
                }
                Interlocked.Increment(ref finished);
            }));
        Task<JobCounts> Counts() => Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("ahead"));
        Task Enqueue(int count, string payload) => Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("ahead", [.. Enumerable.Range(0, count).Select(_ => new JobRequest("n", payload))]));

        // Nothing has run yet, so nothing says the jobs are short: one job at a time is leased.
        await Enqueue(4, "\"block\"");
        await Wait.UntilAsync(() => Volatile.Read(ref started) == 1, "the first long job starts");
        await Task.Delay(300);
        Assert.Equal(new JobCounts(3, 1, 0, 0, 0), await Counts());
        gate.SetResult();
        await Wait.UntilAsync(() => Volatile.Read(ref finished) == 4, "the long jobs finish");

        // Enough short jobs to bring the moving mean of run times under a millisecond.
        await Enqueue(300, "\"short\"");
        await Wait.UntilAsync(async () => (await Counts()).Completed == 304, "the short jobs complete");
        Volatile.Write(ref gate, new TaskCompletionSource());
        const int ahead = QueueOptions.AutoPrefetchFactor;
        await Enqueue(ahead + 3, "\"block\"");
        await Wait.UntilAsync(async () => (await Counts()).Active == 1 + ahead, "one job runs and four times the concurrency more are leased ahead");
        await Task.Delay(300);
        Assert.Equal(new JobCounts(2, 1 + ahead, 0, 304, 0), await Counts());
        Volatile.Read(ref gate).SetResult();
        await Wait.UntilAsync(async () => (await Counts()).Completed == 304 + ahead + 3, "every job completes");
    }

    [Fact]
    public async Task One_tenant_never_runs_more_jobs_at_once_than_its_cap()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var running = 0;
        var most = 0;
        var done = 0;
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("capped", 6, o => o.PerTenantConcurrency = 2)
            .AddHandler("n", async (_, ctx, _) =>
            {
                if (ctx.Tenant == Tenants.A)
                {
                    var now = Interlocked.Increment(ref running);
                    int seen;
                    while ((seen = Volatile.Read(ref most)) < now && Interlocked.CompareExchange(ref most, now, seen) != seen)
                    {
                    }
                    await Task.Delay(20, CancellationToken.None);
                    Interlocked.Decrement(ref running);
                }
                Interlocked.Increment(ref done);
            }));

        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("capped", [.. Enumerable.Range(0, 30).Select(_ => new JobRequest("n", "{}"))]));
        await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueBulkAsync("capped", [.. Enumerable.Range(0, 10).Select(_ => new JobRequest("n", "{}"))]));
        await Wait.UntilAsync(() => Volatile.Read(ref done) == 40, "all jobs ran");

        Assert.Equal(2, most);
    }

    [Fact]
    public async Task Invalid_queue_options_stop_the_server_from_starting_with_the_reason()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue("emails", 0).AddHandler("n", (_, _, _) => Task.CompletedTask)));

        Assert.Contains("Concurrency", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_running_job_removed_by_its_tenant_is_cancelled_when_the_lease_is_next_renewed()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var cancelled = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("removable", 1, o => o.LeaseDuration = TimeSpan.FromSeconds(30))
            .AddHandler("n", async (_, _, ct) =>
            {
                started.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException)
                {
                    cancelled.TrySetResult();
                    throw;
                }
            }), time: time);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("removable", "n", "{}"));
        await started.Task.WaitAsync(Wait.Timeout);

        Assert.True(await Tenants.AsAsync(Tenants.A, () => host.Admin.RemoveAsync("removable", job.Id)));
        await Wait.AdvanceUntilAsync(time, TimeSpan.FromSeconds(5), () => Task.FromResult(cancelled.Task.IsCompleted), "the handler is cancelled");

        Assert.Equal(new JobCounts(0, 0, 0, 0, 0), await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("removable")));
    }
}
