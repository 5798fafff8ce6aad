using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Queue;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class RetryTests(TestServers servers)
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_failed_attempt_is_retried_after_the_fixed_backoff_and_not_before()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        var starts = new ConcurrentQueue<DateTimeOffset>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("retry", 1, o =>
            {
                o.Backoff = BackoffKind.Fixed;
                o.BackoffDelay = TimeSpan.FromSeconds(10);
            })
            .AddHandler("flaky", (_, ctx, _) =>
            {
                starts.Enqueue(time.GetUtcNow());
                return ctx.Attempt == 1 ? throw new InvalidOperationException("boom") : Task.CompletedTask;
            }), time: time);

        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("retry", "flaky", "{}"));
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("retry", job.Id)))?.State == JobState.Delayed, "the job waits for its retry");
        var delayed = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("retry", job.Id));
        Assert.Equal(Start.AddSeconds(10), delayed!.DueAt);
        Assert.Equal("boom", delayed.Error);

        time.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(300);
        Assert.Single(starts);

        await Wait.AdvanceUntilAsync(time, TimeSpan.FromSeconds(1), async () =>
            (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("retry", job.Id)))?.State == JobState.Completed, "the retry completes");
        Assert.Equal(2, starts.Count);
        Assert.True(starts.Last() >= Start.AddSeconds(10));
    }

    [Fact]
    public async Task Exponential_backoff_doubles_the_delay_per_attempt_and_the_last_failure_keeps_reason_and_stack()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("retry", 1, o =>
            {
                o.Backoff = BackoffKind.Exponential;
                o.BackoffJitter = false;
                o.BackoffDelay = TimeSpan.FromSeconds(1);
                o.MaxAttempts = 3;
            })
            .AddHandler("broken", (_, ctx, _) => throw new InvalidOperationException($"attempt {ctx.Attempt} failed")), time: time);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("retry", "broken", "{}"));
        Task<JobDetails?> Detail() => Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("retry", job.Id));

        var delays = new List<TimeSpan>();
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var expected = attempt;
            await Wait.UntilAsync(async () => await Detail() is { State: JobState.Delayed } d && d.Attempts == expected, $"attempt {expected} failed");
            var d = (await Detail())!;
            delays.Add(d.DueAt!.Value - d.StartedAt!.Value);
            // Small steps: the next retry is due a second or more later, so it cannot start before the check above sees this one.
            await Wait.AdvanceUntilAsync(time, TimeSpan.FromMilliseconds(100), async () => await Detail() is { } d2 && (d2.State != JobState.Delayed || d2.Attempts > expected), "the retry starts");
        }
        await Wait.UntilAsync(async () => (await Detail())!.State == JobState.Failed, "the job fails for good");

        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)], delays);
        var failed = (await Detail())!;
        Assert.Equal(3, failed.Attempts);
        Assert.Equal("attempt 3 failed", failed.Error);
        Assert.Contains("InvalidOperationException", failed.StackTrace, StringComparison.Ordinal);
        Assert.Equal(1, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("retry"))).Failed);
    }

    [Fact]
    public async Task A_permanent_failure_fails_at_once_without_retries()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var runs = 0;
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("emails", 1, o => o.MaxAttempts = 5)
            .AddHandler("send-email", (_, _, _) =>
            {
                Interlocked.Increment(ref runs);
                throw new PermanentJobFailureException("550 mailbox unavailable");
            }));
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", "{}"));

        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("emails", job.Id)))?.State == JobState.Failed, "the job fails");

        Assert.Equal(1, runs);
        Assert.Equal("550 mailbox unavailable", (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("emails", job.Id)))!.Error);
    }

    [Fact]
    public async Task Retry_after_delays_the_job_without_using_an_attempt()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        var attempts = new ConcurrentQueue<int>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("api", 1, o => o.MaxAttempts = 1)
            .AddHandler("call", (_, ctx, _) =>
            {
                attempts.Enqueue(ctx.Attempt);
                return attempts.Count < 3 ? throw new JobRetryAfterException(TimeSpan.FromSeconds(30), "429 Too Many Requests") : Task.CompletedTask;
            }), time: time);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("api", "call", "{}"));

        await Wait.AdvanceUntilAsync(time, TimeSpan.FromSeconds(5), async () =>
            (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("api", job.Id)))?.State == JobState.Completed, "the job completes");

        Assert.Equal([1, 1, 1], attempts);
    }
}

public sealed class DelayedJobTests(TestServers servers)
{
    [Fact]
    public async Task A_delayed_job_is_promoted_and_runs_only_once_its_time_has_come()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var time = new FakeTimeProvider(start);
        var ranAt = new TaskCompletionSource<DateTimeOffset>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("later", 1)
            .AddHandler("n", (_, _, _) =>
            {
                ranAt.TrySetResult(time.GetUtcNow());
                return Task.CompletedTask;
            }), time: time);

        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("later", "n", "{}", new EnqueueOptions { Delay = TimeSpan.FromMinutes(5) }));
        var counts = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("later"));
        Assert.Equal(1, counts.Delayed);
        time.Advance(TimeSpan.FromMinutes(4));
        await Task.Delay(300);
        Assert.False(ranAt.Task.IsCompleted);

        await Wait.AdvanceUntilAsync(time, TimeSpan.FromSeconds(10), () => Task.FromResult(ranAt.Task.IsCompleted), "the job runs");

        Assert.True(await ranAt.Task >= start.AddMinutes(5));
    }
}

public sealed class CrashRecoveryTests(TestServers servers)
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_job_abandoned_by_a_crashed_worker_runs_again_when_its_lease_expires()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        var settings = Tenants.Settings();
        await using var crashed = await QueueHost.StartAsync(db, settings, time: time);
        var job = await Tenants.AsAsync(Tenants.A, () => crashed.Client.EnqueueAsync("work", "n", "{}"));
        // The crashed worker leased the job and then vanished: no completion, no renewal, no cleanup.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var leased = await crashed.Storage.FetchAsync("work", crashed.Storage.Layout.ShardOf("tenant-a"), now, now + 30_000, "crashed:1", 10, 0, 1, [("tenant-a", -1)], 8);
        Assert.Single(leased.Jobs);

        var ran = new TaskCompletionSource();
        await using var worker = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("work", 1, o => o.LeaseDuration = TimeSpan.FromSeconds(30))
            .AddHandler("n", (_, _, _) =>
            {
                ran.TrySetResult();
                return Task.CompletedTask;
            }), time: time);
        await Task.Delay(200);
        Assert.False(ran.Task.IsCompleted);

        await Wait.AdvanceUntilAsync(time, TimeSpan.FromSeconds(5), () => Task.FromResult(ran.Task.IsCompleted), "the job runs again");

        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("work", job.Id)))?.State == JobState.Completed, "completed");
        var detail = await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("work", job.Id));
        Assert.Equal(1, detail!.Stalls);
        Assert.Equal(1, detail.Attempts);
    }

    [Fact]
    public async Task A_job_that_stalls_more_than_the_maximum_fails_saying_so()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), time: time);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("work", "poison", "{}"));

        // Each fetch first recovers the expired lease of the previous (crashed) one, then leases the job again.
        for (var crash = 1; crash <= 3; crash++)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            await host.Storage.FetchAsync("work", host.Storage.Layout.ShardOf("tenant-a"), now, now + 30_000, $"crashed:{crash}", 10, 0, 1, [("tenant-a", -1)], 8);
            time.Advance(TimeSpan.FromSeconds(31));
        }

        var detail = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("work", job.Id));
        Assert.Equal(JobState.Failed, detail!.State);
        Assert.Equal(2, detail.Stalls);
        Assert.Contains("stalled 2 times", detail.Error, StringComparison.Ordinal);
        Assert.Contains("more than the maximum of 1 stalls", detail.Error, StringComparison.Ordinal);
    }
}
