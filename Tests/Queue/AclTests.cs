using Microsoft.Extensions.DependencyInjection;
using Queue;
using Queue.Storage;
using StackExchange.Redis;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>
/// Valkey's ACL as the topology configures it (<see cref="ValkeyAcl"/>): a tenant's web app reaches only its tenant's
/// keys, and no service user may administer Valkey. Each test runs against a real server loading the ACL file.
/// </summary>
public sealed class AclTests : IAsyncLifetime
{
    private const string Queue = "emails";
    private AclRedis _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await AclRedis.StartAsync("tenant-a", "tenant-b");

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    private static string WebA => ValkeyAcl.WebUser(Tenants.A);

    // Heartbeats every 200 ms: the depth reporter (a function of its own) runs within the tests too.
    private Task<QueueHost> WorkerAsync(Action<JobQueueServerBuilder> queues) =>
        QueueHost.StartAsync(_redis.ConnectionString(ValkeyAcl.Workers), Tenants.Settings(), queues,
            serverOptions: o => o.HeartbeatInterval = TimeSpan.FromMilliseconds(200));

    /// <summary>What the server refused anyone since it started (ACL LOG): a service refused by its own ACL is a bug.</summary>
    private async Task<string> RefusalsAsync()
    {
        await using var admin = await _redis.RawAsync(ValkeyAcl.Admin);
        return await admin.SendAsync("ACL", "LOG");
    }

    private Task<QueueHost> WebAsync(string user) => QueueHost.StartAsync(_redis.ConnectionString(user), Tenants.Settings());

    [Fact]
    public async Task A_tenants_web_user_enqueues_lists_retries_and_removes_its_own_jobs_and_the_workers_run_them()
    {
        var ran = 0;
        var failedOnce = 0;
        await using var worker = await WorkerAsync(s => s.AddQueue(Queue, 2)
            .AddHandler("ok", (_, _, _) => Task.FromResult(Interlocked.Increment(ref ran)))
            .AddHandler("flaky", (_, _, _) => Interlocked.Exchange(ref failedOnce, 1) == 0
                ? throw new PermanentJobFailureException("the first run fails")
                : Task.FromResult(Interlocked.Increment(ref ran))));
        await using var web = await WebAsync(WebA);

        var ok = await Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "ok", "{}"));
        var failing = await Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "flaky", "{}", new EnqueueOptions { JobId = "job-once" }));
        var later = await Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "ok", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => web.Admin.GetJobAsync(Queue, failing.Id)))?.State == JobState.Failed, "the flaky job fails once");

        var failed = await Tenants.AsAsync(Tenants.A, () => web.Admin.GetJobsAsync(Queue, JobState.Failed));
        Assert.Equal([failing.Id], [.. failed.Select(j => j.Id)]);
        Assert.True(await Tenants.AsAsync(Tenants.A, () => web.Admin.RetryAsync(Queue, failing.Id)));
        Assert.True(await Tenants.AsAsync(Tenants.A, () => web.Admin.RemoveAsync(Queue, later.Id)));
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => web.Admin.GetCountsAsync(Queue))) is { Completed: 2, Failed: 0, Delayed: 0 },
            "both jobs completed, the delayed one removed");
        Assert.Equal(2, ran);
        Assert.Equal(JobState.Completed, (await Tenants.AsAsync(Tenants.A, () => web.Admin.GetJobAsync(Queue, ok.Id)))!.State);

        // The depth reporter has published the queue's backlog (what KEDA scales on), and nothing of any of it was refused.
        var backlog = worker.Services.GetRequiredService<IJobQueueBacklog>();
        await Wait.UntilAsync(async () => (await backlog.GetWaitingAsync([Queue])).ContainsKey(Queue), "the backlog is reported");
        Assert.Equal("", await RefusalsAsync());
    }

    [Fact]
    public async Task What_the_functions_wrote_survives_a_restart_of_valkey_with_the_deployments_users()
    {
        var ran = 0;
        await using (var worker = await WorkerAsync(s => s.AddQueue(Queue, 2).AddHandler("ok", (_, _, _) => Task.FromResult(Interlocked.Increment(ref ran)))))
        await using (var web = await WebAsync(WebA))
        {
            for (var i = 0; i < 5; i++)
            {
                await Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "ok", "{}"));
            }
            await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => web.Admin.GetCountsAsync(Queue))).Completed == 5, "five jobs completed");
            await worker.StopAsync();
            await Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "ok", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));
            await Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "ok", "{}"));
        }
        await using var before = await _redis.ConnectAsync(ValkeyAcl.Admin);
        // Keys that expire (heartbeats, the reported backlog) are left out: their remaining time moves on.
        var keys = new List<RedisKey>();
        foreach (var key in before.GetServer(before.GetEndPoints()[0]).Keys(pattern: "aq:*"))
        {
            if (await before.GetDatabase().KeyTimeToLiveAsync(key) is null)
            {
                keys.Add(key);
            }
        }
        Assert.NotEmpty(keys);
        var stored = await DumpAsync(before, keys);
        await before.CloseAsync();

        // Every job write is a function call, which Valkey logs to its append-only file as one transaction.
        await _redis.RestartAsync();

        await using var after = await _redis.ConnectAsync(ValkeyAcl.Admin);
        Assert.Equal(stored, await DumpAsync(after, keys));
        await using var web2 = await WebAsync(WebA);
        Assert.Equal(new JobCounts(Waiting: 1, Active: 0, Delayed: 1, Completed: 5, Failed: 0), await Tenants.AsAsync(Tenants.A, () => web2.Admin.GetCountsAsync(Queue)));
        Assert.Equal("", await RefusalsAsync());
    }

    [Fact]
    public async Task A_tenants_web_user_cannot_read_change_delete_or_expire_any_key_of_another_tenant()
    {
        await using var worker = await WorkerAsync(s => s.AddQueue("other", 1).AddHandler("ok", (_, _, _) => Task.CompletedTask));
        await using var webB = await WebAsync(ValkeyAcl.WebUser(Tenants.B));
        // Tenant B has a job in every kind of key (waiting on a queue no worker serves here, delayed, a recurring one).
        var job = await Tenants.AsAsync(Tenants.B, () => webB.Client.EnqueueAsync(Queue, "send-email", "{\"to\":\"b@example.test\"}"));
        await Tenants.AsAsync(Tenants.B, () => webB.Client.EnqueueAsync(Queue, "send-email", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1), Priority = 5 }));
        await using var admin = await _redis.ConnectAsync(ValkeyAcl.Admin);
        var keysOfB = admin.GetServer(admin.GetEndPoints()[0]).Keys(pattern: "aq:t:tenant-b:*").ToList();
        Assert.NotEmpty(keysOfB);
        var before = await DumpAsync(admin, keysOfB);

        await using var webA = await _redis.ConnectAsync(WebA);
        var db = webA.GetDatabase();
        foreach (var key in keysOfB)
        {
            await RefusedAsync(db.ExecuteAsync("TYPE", key), $"TYPE {key}");
            await RefusedAsync(db.HashGetAllAsync(key), $"HGETALL {key}");
            await RefusedAsync(db.ListRangeAsync(key), $"LRANGE {key}");
            await RefusedAsync(db.SortedSetRangeByRankAsync(key), $"ZRANGE {key}");
            await RefusedAsync(db.HashSetAsync(key, job.Id, "changed"), $"HSET {key}");
            await RefusedAsync(db.ListLeftPushAsync(key, "planted"), $"LPUSH {key}");
            await RefusedAsync(db.SortedSetAddAsync(key, job.Id, 1), $"ZADD {key}");
            await RefusedAsync(db.KeyDeleteAsync(key), $"DEL {key}");
            await RefusedAsync(db.KeyExpireAsync(key, TimeSpan.FromSeconds(1)), $"EXPIRE {key}");
            await RefusedAsync(db.KeyPersistAsync(key), $"PERSIST {key}");
            await RefusedAsync(db.KeyRenameAsync(key, (string?)key + "x"), $"RENAME {key}");
        }
        // Its hold (pausing B) and the workers' keys of the shard (the ring, leases) are out of reach too.
        await RefusedAsync(db.HashSetAsync("aq:{holds}:t:tenant-b", "pause", "{}"), "HSET B's hold");
        await RefusedAsync(db.SetAddAsync("aq:{holds}:set", "tenant-b"), "SADD the held set");
        await RefusedAsync(db.SortedSetRangeByRankAsync($"aq:q:{{{Queue}}}:ring"), "ZRANGE the ring");
        await RefusedAsync(db.KeyDeleteAsync($"aq:q:{{{Queue}}}:ring"), "DEL the ring");
        await RefusedAsync(db.HashSetAsync($"aq:q:{{{Queue}}}:cfg", "wmax", "999999999"), "lift the ceiling");

        Assert.Equal(before, await DumpAsync(admin, keysOfB));
    }

    [Theory]
    [InlineData("FLUSHALL")]
    [InlineData("FLUSHDB")]
    [InlineData("CONFIG", "SET", "maxmemory-policy", "allkeys-random")]
    [InlineData("CONFIG", "GET", "*")]
    [InlineData("KEYS", "*")]
    [InlineData("SCAN", "0")]
    [InlineData("ACL", "LIST")]
    [InlineData("ACL", "SETUSER", "web-tenant-a", "+@all", "~*")]
    [InlineData("DEBUG", "SLEEP", "0")]
    [InlineData("MONITOR")]
    [InlineData("CLIENT", "KILL", "TYPE", "normal")]
    [InlineData("CLIENT", "LIST")]
    [InlineData("SHUTDOWN", "NOSAVE")]
    [InlineData("SCRIPT", "FLUSH")]
    [InlineData("EVAL", "return 1", "0")]
    [InlineData("FUNCTION", "FLUSH")]
    [InlineData("FUNCTION", "LOAD", "#!lua name=evil\nredis.register_function('x', function() while true do end end)")]
    [InlineData("SUBSCRIBE", "aq:q:{emails}:wake")]
    [InlineData("PUBLISH", "aq:{holds}:changed", "tenant-b")]
    public async Task A_tenants_web_user_cannot_administer_or_watch_valkey(string command, params string[] args)
    {
        await using var webA = await _redis.RawAsync(WebA);

        var reply = await webA.SendAsync([command, .. args]);

        Assert.StartsWith("-NOPERM", reply, StringComparison.Ordinal);
        await using var admin = await _redis.RawAsync(ValkeyAcl.Admin);
        Assert.Equal("PONG", await admin.SendAsync("PING"));
    }

    [Theory]
    [InlineData(ValkeyAcl.Workers)]
    [InlineData(ValkeyAcl.Scheduler)]
    [InlineData(ValkeyAcl.Operator)]
    public async Task No_service_user_may_flush_reconfigure_or_administer_valkey(string user)
    {
        await using var connection = await _redis.RawAsync(user);

        foreach (string[] command in (string[][])[
            ["FLUSHALL"], ["FLUSHDB"], ["CONFIG", "SET", "maxmemory", "1"], ["ACL", "SETUSER", user, "+@all"], ["DEBUG", "SLEEP", "0"],
            ["SHUTDOWN", "NOSAVE"], ["FUNCTION", "FLUSH"], ["FUNCTION", "DELETE", FunctionLibrary.Version], ["KEYS", "*"], ["MONITOR"], ["CLIENT", "KILL", "TYPE", "normal"]])
        {
            Assert.StartsWith("-NOPERM", await connection.SendAsync(command), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Calling_the_engines_functions_with_another_tenants_keys_is_refused_and_with_its_ids_finds_nothing_of_theirs()
    {
        await using var worker = await WorkerAsync(s => s.AddQueue("other", 1).AddHandler("ok", (_, _, _) => Task.CompletedTask));
        await using var webB = await WebAsync(ValkeyAcl.WebUser(Tenants.B));
        var jobOfB = await Tenants.AsAsync(Tenants.B, () => webB.Client.EnqueueAsync(Queue, "send-email", "{}", new EnqueueOptions { JobId = "shared-id" }));
        await using var admin = await _redis.ConnectAsync(ValkeyAcl.Admin);
        var layout = new QueueLayout("aq", QueueHost.TestShards);
        var shard = layout.ShardFor(Queue, "tenant-b");
        var before = await DumpAsync(admin, [.. layout.TenantBlock(Queue, "tenant-b")]);

        await using var webA = await _redis.ConnectAsync(WebA);
        var db = webA.GetDatabase();
        var blockOfB = layout.TenantBlock(Queue, "tenant-b");
        var blockOfA = layout.TenantBlock(Queue, "tenant-a");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Tenant B's keys in any function: refused before it runs.
        await RefusedAsync(Call(db, "enqueue", [.. blockOfB, shard.Ready, shard.Config], now, "tenant-b", 1, shard.WakeName, "planted", "x", 0, 0), "enqueue into B");
        await RefusedAsync(Call(db, "admin", [.. blockOfB, shard.Ready], "remove", "tenant-b", jobOfB.Id, shard.WakeName), "remove B's job");
        await RefusedAsync(Call(db, "clean", [.. blockOfB, shard.Ready], "tenant-b", "completed", now, 1000), "clean B's jobs");
        await RefusedAsync(Call(db, "fetch", [.. shard.Block, .. blockOfB], now, now + 30_000, "token", 10, 0, 1, 8, "tenant-b", -1), "lease B's jobs");
        await RefusedAsync(Call(db, "progress", [blockOfB[4], blockOfB[8]], jobOfB.Id, "", "{}"), "B's progress");
        // A worker's function with its own keys: refused at the first shard key a web app may not write.
        await RefusedAsync(Call(db, "fetch", [.. shard.Block, .. blockOfA], now, now + 30_000, "token", 10, 0, 1, 8, "tenant-a", -1), "fetch as a worker");
        // B's job id in the arguments with A's own keys acts on A's keys only: nothing of B's is found.
        Assert.Equal(0, (int)await Call(db, "admin", [.. blockOfA, shard.Ready], "remove", "tenant-b", jobOfB.Id, shard.WakeName));
        Assert.Equal(0, (int)await Call(db, "admin", [.. blockOfA, shard.Ready], "retry", "tenant-b", jobOfB.Id, shard.WakeName));

        Assert.Equal(before, await DumpAsync(admin, [.. layout.TenantBlock(Queue, "tenant-b")]));
    }

    [Fact]
    public async Task A_tenants_web_user_may_add_to_the_ready_sets_but_neither_read_nor_clear_them()
    {
        await using var webA = await _redis.ConnectAsync(WebA);
        var db = webA.GetDatabase();
        var ready = new QueueLayout("aq", QueueHost.TestShards).Shards(Queue)[0].Ready;

        Assert.True(await db.SetAddAsync(ready, "tenant-a"));
        await RefusedAsync(db.SetMembersAsync(ready), "SMEMBERS ready");
        await RefusedAsync(db.SetRemoveAsync(ready, "tenant-a"), "SREM ready");
        await RefusedAsync(db.KeyDeleteAsync(ready), "DEL ready");
    }

    [Fact]
    public async Task A_web_app_without_loaded_functions_is_told_to_start_a_worker()
    {
        await using var web = await WebAsync(WebA);

        var error = await Assert.ThrowsAsync<QueueFunctionsMissingException>(() => Tenants.AsAsync(Tenants.A, () => web.Client.EnqueueAsync(Queue, "send-email", "{}")));

        Assert.Contains("start one of them", error.Message, StringComparison.Ordinal);
    }

    private static Task<RedisResult> Call(IDatabase db, string function, RedisKey[] keys, params RedisValue[] args) =>
        db.ExecuteAsync("FCALL", [FunctionLibrary.Function(function), keys.Length, .. keys.Select(k => (object)k), .. args.Select(a => (object)a)]);

    private static async Task RefusedAsync(Task call, string what)
    {
        var error = await Assert.ThrowsAnyAsync<RedisException>(() => call);
        Assert.True(error.Message.Contains("NOPERM", StringComparison.Ordinal) || error.Message.Contains("permission", StringComparison.OrdinalIgnoreCase)
            || error.Message.Contains("can't run this command", StringComparison.Ordinal),
            $"{what} should be refused for lack of permission, but failed with: {error.Message}");
    }

    /// <summary>Every key's type and content, to show nothing changed.</summary>
    private static async Task<string> DumpAsync(ConnectionMultiplexer admin, IReadOnlyList<RedisKey> keys)
    {
        var db = admin.GetDatabase();
        var lines = new List<string>();
        foreach (var key in keys.OrderBy(k => (string?)k, StringComparer.Ordinal))
        {
            var type = await db.KeyTypeAsync(key);
            var content = type switch
            {
                RedisType.Hash => string.Join(',', (await db.HashGetAllAsync(key)).Select(e => $"{e.Name}={e.Value}").Order(StringComparer.Ordinal)),
                RedisType.List => string.Join(',', await db.ListRangeAsync(key)),
                RedisType.Set => string.Join(',', (await db.SetMembersAsync(key)).Select(v => (string?)v).Order(StringComparer.Ordinal)),
                RedisType.SortedSet => string.Join(',', (await db.SortedSetRangeByRankWithScoresAsync(key)).Select(e => $"{e.Element}:{e.Score}")),
                _ => "",
            };
            lines.Add($"{key} {type} {content} ttl={await db.KeyTimeToLiveAsync(key)}");
        }
        return string.Join('\n', lines);
    }
}
