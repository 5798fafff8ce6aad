using System.Collections.Concurrent;
using Queue;
using Queue.Security;
using Queue.Storage;
using StackExchange.Redis;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>Moving the queue's data to this version's layout: from the earlier layout, and to another shard count.</summary>
public sealed class RelayoutTests(TestServers servers)
{
    [Fact]
    public async Task Jobs_in_the_earlier_layout_refuse_the_new_workers_until_moved_then_run_with_nothing_lost()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using (var valkey = await db.ConnectAsync())
        {
            var old = new Layout1(valkey.GetDatabase(db.Index), "emails");
            await old.WaitingAsync("tenant-a", "a1");
            await old.WaitingAsync("tenant-a", "a2", priority: 5);
            await old.RunningAsync("tenant-a", "a3");
            await old.DelayedAsync("tenant-a", "a4", DateTimeOffset.UtcNow.AddDays(1));
            await old.FinishedAsync("tenant-a", "a5", failed: false);
            await old.FinishedAsync("tenant-a", "a6", failed: true);
            await old.WaitingAsync("tenant-b", "b1");
            await old.RecurringAsync("tenant-b", "digest", DateTimeOffset.UtcNow.AddHours(1));
        }
        var ran = new ConcurrentBag<string>();
        Task<QueueHost> WorkerAsync() => QueueHost.StartAsync(db, Tenants.Settings(),
            s => s.AddQueue("emails", 2).AddHandler("send-email", (_, ctx, _) =>
            {
                ran.Add(ctx.Id);
                return Task.CompletedTask;
            }), options: o => o.Shards = 3);

        var refused = await Assert.ThrowsAsync<QueueLayoutMismatchException>(WorkerAsync);
        Assert.Contains("dotnet Workers.dll relayout", refused.Message, StringComparison.Ordinal);

        var summary = await JobQueueRelayout.RunAsync(db.ConnectionString, shards: 3);

        Assert.Equal(["emails"], summary.Queues);
        Assert.Equal((2, 7L, 1L), (summary.Tenants, summary.Jobs, summary.RequeuedRunning));
        await using var worker = await WorkerAsync();
        await Wait.UntilAsync(() => ran.Count == 4, "the waiting jobs and the one that was running run");
        Assert.Equal(["a1", "a2", "a3", "b1"], [.. ran.Order(StringComparer.Ordinal)]);
        var a3 = await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("emails", "a3"));
        Assert.Equal(1, a3!.Attempts);
        var counts = await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetCountsAsync("emails"));
        Assert.Equal((0, 1, 4, 1), (counts.Waiting, counts.Delayed, counts.Completed, counts.Failed));
        Assert.Equal("it failed", (await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("emails", "a6")))!.Error);
        var recurring = await Tenants.AsAsync(Tenants.B, () => worker.Recurring.ListAsync("emails"));
        Assert.Equal("digest", Assert.Single(recurring).Id);
        await using var valkeyAfter = await db.ConnectAsync();
        Assert.Empty(valkeyAfter.GetServer(valkeyAfter.GetEndPoints()[0]).Keys(db.Index, "aq:{emails}:*"));
    }

    [Fact]
    public async Task Another_shard_count_is_refused_at_start_and_at_enqueue_until_the_data_is_moved()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var tenants = Tenants.Settings();
        var ran = new ConcurrentBag<string>();
        Task<QueueHost> WorkerAsync(int shards) => QueueHost.StartAsync(db, tenants,
            s => s.AddQueue("emails", 2).AddHandler("n", (_, ctx, _) =>
            {
                ran.Add(ctx.Id);
                return Task.CompletedTask;
            }), options: o => o.Shards = shards);
        // One shard: a worker records the layout, then stops; jobs wait.
        await (await WorkerAsync(1)).DisposeAsync();
        var ids = new List<string>();
        await using (var client = await QueueHost.StartAsync(db, tenants, options: o => o.Shards = 1))
        {
            foreach (var tenant in new[] { Tenants.A, Tenants.B, Tenants.C })
            {
                ids.AddRange((await Tenants.AsAsync(tenant, () => client.Client.EnqueueBulkAsync("emails", [.. Enumerable.Range(0, 5).Select(_ => new JobRequest("n", "{}"))]))).Select(r => r.Id));
            }
        }

        var atStart = await Assert.ThrowsAsync<QueueLayoutMismatchException>(() => WorkerAsync(4));
        Assert.Contains("laid out in 1 shards in Valkey, but this worker is configured with 4 (QUEUE_SHARDS)", atStart.Message, StringComparison.Ordinal);
        await using (var client = await QueueHost.StartAsync(db, tenants, options: o => o.Shards = 4))
        {
            var atEnqueue = await Assert.ThrowsAsync<QueueLayoutMismatchException>(() => Tenants.AsAsync(Tenants.A, () => client.Client.EnqueueAsync("emails", "n", "{}")));
            Assert.Contains("laid out in 1 shards, this client uses 4", atEnqueue.Message, StringComparison.Ordinal);
        }

        await JobQueueRelayout.RunAsync(db.ConnectionString, shards: 4);

        await using var worker = await WorkerAsync(4);
        ids.Add((await Tenants.AsAsync(Tenants.A, () => worker.Client.EnqueueAsync("emails", "n", "{}"))).Id);
        await Wait.UntilAsync(() => ran.Count == ids.Count, "every job runs, once");
        Assert.Equal(ids.Order(StringComparer.Ordinal), ran.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Moving_the_data_is_refused_while_a_worker_runs()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var worker = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue("emails", 1).AddHandler("n", (_, _, _) => Task.CompletedTask));

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => JobQueueRelayout.RunAsync(db.ConnectionString, shards: 2));

        Assert.Contains("is still running", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>Writes jobs as the engine of layout 1 stored them (a hash per job, lines per tenant), signed as it signed them.</summary>
    private sealed class Layout1(IDatabase db, string queue)
    {
        private string Prefix => $"aq:{{{queue}}}:";

        private static string Data(string tenant, string queue, string id) =>
            System.Text.Encoding.UTF8.GetString(new JobData("send-email", "{}", JobSignature.Compute($"key-of-{tenant}", queue, id, tenant, "send-email", "{}"), "", 0,
                DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).Encode());

        public async Task WaitingAsync(string tenant, string id, int priority = 0)
        {
            await db.HashSetAsync($"{Prefix}j:{tenant}:{id}", "d", Data(tenant, queue, id));
            if (priority > 0)
            {
                var ws = ((1000 - priority) * 1099511627776L) + 1;
                await db.HashSetAsync($"{Prefix}j:{tenant}:{id}", [new("pr", priority), new("ws", ws)]);
                await db.SortedSetAddAsync($"{Prefix}t:{tenant}:prio", id, ws);
            }
            else
            {
                await db.ListRightPushAsync($"{Prefix}t:{tenant}:wait", id);
            }
            await db.SortedSetAddAsync($"{Prefix}ring", tenant, 0);
            await db.SetAddAsync($"{Prefix}tenants", tenant);
        }

        public async Task RunningAsync(string tenant, string id)
        {
            await db.HashSetAsync($"{Prefix}j:{tenant}:{id}", [new("d", Data(tenant, queue, id)), new("st", "active"), new("a", 1), new("lt", "old-worker:1")]);
            await db.SetAddAsync($"{Prefix}t:{tenant}:active", id);
            await db.ListRightPushAsync($"{Prefix}lease:old-worker:1", $"{tenant}|{id}");
        }

        public async Task DelayedAsync(string tenant, string id, DateTimeOffset due)
        {
            await db.HashSetAsync($"{Prefix}j:{tenant}:{id}", [new("d", Data(tenant, queue, id)), new("st", "delayed"), new("du", due.ToUnixTimeMilliseconds())]);
            await db.SortedSetAddAsync($"{Prefix}t:{tenant}:delayed", id, due.ToUnixTimeMilliseconds());
            await db.SortedSetAddAsync($"{Prefix}delayed", $"{tenant}|{id}", due.ToUnixTimeMilliseconds());
        }

        public async Task FinishedAsync(string tenant, string id, bool failed)
        {
            HashEntry[] fields = [new("d", Data(tenant, queue, id)), new("st", failed ? "failed" : "completed"), new("a", 1), new("tf", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())];
            await db.HashSetAsync($"{Prefix}j:{tenant}:{id}", failed ? [.. fields, new("er", "it failed")] : fields);
            await db.ListLeftPushAsync($"{Prefix}t:{tenant}:{(failed ? "failed" : "completed")}", id);
            await db.HashIncrementAsync($"{Prefix}t:{tenant}:stats", failed ? "f" : "c");
        }

        public async Task RecurringAsync(string tenant, string id, DateTimeOffset next)
        {
            await db.HashSetAsync($"{Prefix}t:{tenant}:recurring", id, "{\"cron\":\"0 8 * * *\",\"timeZone\":null,\"jobName\":\"send-email\",\"payload\":\"{}\"}");
            await db.SortedSetAddAsync($"{Prefix}recurring:due", $"{tenant}|{id}", next.ToUnixTimeMilliseconds());
        }
    }
}
