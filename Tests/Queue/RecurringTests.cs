using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Queue;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class RecurringTests(TestServers servers)
{
    private static readonly DateTimeOffset Start = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Two_competing_servers_run_each_occurrence_exactly_once()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        var settings = Tenants.Settings();
        var runs = new ConcurrentQueue<(string Worker, string Id)>();
        void Server(JobQueueServerBuilder s, string worker) => s
            .AddQueue("notifications", 4)
            .AddHandler("send-daily-digest", (_, ctx, _) =>
            {
                runs.Enqueue((worker, ctx.Id));
                return Task.CompletedTask;
            });
        await using var one = await QueueHost.StartAsync(db, settings, s => Server(s, "one"), time);
        await using var two = await QueueHost.StartAsync(db, settings, s => Server(s, "two"), time);
        Assert.True(await Tenants.AsAsync(Tenants.A, () => one.Recurring.UpsertAsync("notifications", "digest-tenant-a", "*/10 * * * * *", "send-daily-digest", "{\"tenant\":\"tenant-a\"}")));

        await Wait.AdvanceUntilAsync(time, TimeSpan.FromSeconds(1), () => Task.FromResult(runs.Count >= 6), "six occurrences ran");
        await Task.Delay(500);

        var ids = runs.Select(r => r.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.StartsWith("digest-tenant-a@", id, StringComparison.Ordinal));
        Assert.All(ids, id => Assert.Equal(0, long.Parse(id.Split('@')[1], System.Globalization.CultureInfo.InvariantCulture) % 10_000));
    }

    [Fact]
    public async Task Upserting_an_identical_definition_is_a_no_op_that_keeps_its_schedule()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), time: time);
        var recurring = host.Recurring;

        await Tenants.AsAsync(Tenants.A, async () =>
        {
            Assert.True(await recurring.UpsertAsync("forecast-updates", "forecast", "0 3 * * *", "update-all-cases-forecast"));
            var first = Assert.Single(await recurring.ListAsync("forecast-updates"));
            Assert.Equal(Start.AddHours(3), first.NextOccurrence);
            time.Advance(TimeSpan.FromHours(5));
            Assert.False(await recurring.UpsertAsync("forecast-updates", "forecast", "0 3 * * *", "update-all-cases-forecast"));
            Assert.Equal(first, Assert.Single(await recurring.ListAsync("forecast-updates")));
            Assert.True(await recurring.UpsertAsync("forecast-updates", "forecast", "0 4 * * *", "update-all-cases-forecast"));
            Assert.Equal(Start.AddDays(1).AddHours(4), Assert.Single(await recurring.ListAsync("forecast-updates")).NextOccurrence);
            return 0;
        });
    }

    [Fact]
    public async Task A_recurring_job_follows_its_time_zone_and_can_be_removed()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), time: time);

        await Tenants.AsAsync(Tenants.A, async () =>
        {
            await host.Recurring.UpsertAsync("notifications", "digest", "0 8 * * *", "send-daily-digest", timeZone: "Europe/Berlin");
            // 08:00 in Berlin in January is 07:00 UTC.
            Assert.Equal(Start.AddHours(7), Assert.Single(await host.Recurring.ListAsync("notifications")).NextOccurrence);
            Assert.True(await host.Recurring.RemoveAsync("notifications", "digest"));
            Assert.False(await host.Recurring.RemoveAsync("notifications", "digest"));
            Assert.Empty(await host.Recurring.ListAsync("notifications"));
            return 0;
        });
        Assert.Empty(await Tenants.AsAsync(Tenants.B, () => host.Recurring.ListAsync("notifications")));
    }

    [Fact]
    public async Task An_invalid_cron_expression_is_refused_with_its_text()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings());

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            Tenants.AsAsync(Tenants.A, () => host.Recurring.UpsertAsync("notifications", "x", "61 * * * *", "n")));

        Assert.Contains("Invalid cron expression '61 * * * *'", error.Message, StringComparison.Ordinal);
    }
}
