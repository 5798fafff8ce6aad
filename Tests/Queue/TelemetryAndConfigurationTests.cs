using Queue.Storage;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Queue;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class TelemetryTests(TestServers servers)
{
    [Fact]
    public async Task The_consumer_span_is_a_child_of_the_producer_span_and_both_carry_the_tenant()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "traced-" + Guid.NewGuid().ToString("N")[..8];
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == QueueTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (Equals(a.GetTagItem("messaging.destination.name"), queue))
                {
                    spans.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue(queue, 1).AddHandler("n", (_, _, _) => Task.CompletedTask));

        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync(queue, "n", "{}"));
        await Wait.UntilAsync(() => spans.Count >= 2, "both spans ended");

        var producer = Assert.Single(spans, s => s.Kind == ActivityKind.Producer);
        var consumer = Assert.Single(spans, s => s.Kind == ActivityKind.Consumer);
        Assert.Equal(producer.TraceId, consumer.TraceId);
        Assert.Equal(producer.SpanId, consumer.ParentSpanId);
        foreach (var span in new[] { producer, consumer })
        {
            Assert.Equal("tenant-a", span.GetTagItem("tenant.id"));
            Assert.Equal("valkey", span.GetTagItem("messaging.system"));
            Assert.Equal(job.Id, span.GetTagItem("messaging.message.id"));
        }
        Assert.Equal("send", producer.GetTagItem("messaging.operation.type"));
        Assert.Equal("process", consumer.GetTagItem("messaging.operation.type"));
    }

    [Fact]
    public async Task Enqueued_and_completed_jobs_are_counted_per_queue_and_tenant()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "metered-" + Guid.NewGuid().ToString("N")[..8];
        var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == QueueTelemetry.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var t = tags.ToArray();
            if (t.Any(x => x.Key == "messaging.destination.name" && Equals(x.Value, queue)) && t.Any(x => x.Key == "tenant.id" && Equals(x.Value, "tenant-b")))
            {
                counts.AddOrUpdate(instrument.Name, value, (_, v) => v + value);
            }
        });
        listener.Start();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue(queue, 2).AddHandler("n", (_, _, _) => Task.CompletedTask));

        await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueBulkAsync(queue, [new JobRequest("n", "{}"), new JobRequest("n", "{}"), new JobRequest("n", "{}")]));

        await Wait.UntilAsync(() => counts.GetValueOrDefault("queue.jobs.completed") == 3, "three completions are counted");
        Assert.Equal(3, counts["queue.jobs.enqueued"]);
    }
}

public sealed class QueueDepthMetricTests(TestServers servers)
{
    [Fact]
    public async Task The_heartbeat_reports_the_depth_by_state_of_each_tenant_with_jobs_and_of_no_other()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "depth-" + Guid.NewGuid().ToString("N")[..8];
        var depths = new System.Collections.Concurrent.ConcurrentDictionary<(string Tenant, string State), long>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(),
            s => s.AddQueue(queue, 1).AddHandler("fail", (_, _, _) => throw new PermanentJobFailureException("no")),
            serverOptions: o => o.HeartbeatInterval = TimeSpan.FromMilliseconds(200));
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync(queue, "fail", "{}"));
        await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueAsync(queue, "fail", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));

        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == QueueTelemetry.MeterName && instrument.Name == "queue.jobs")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var t = tags.ToArray().ToDictionary(x => x.Key, x => x.Value?.ToString());
            if (t.GetValueOrDefault("messaging.destination.name") == queue)
            {
                depths[(t["tenant.id"]!, t["queue.job.state"]!)] = value;
            }
        });
        listener.Start();

        await Wait.UntilAsync(() =>
        {
            listener.RecordObservableInstruments();
            return depths.GetValueOrDefault(("tenant-a", "failed")) == 1 && depths.GetValueOrDefault(("tenant-b", "delayed")) == 1;
        }, "the failed job of A and the delayed job of B are reported by state");
        Assert.Equal(0, depths[("tenant-a", "delayed")]);
        Assert.Equal(0, depths[("tenant-b", "failed")]);
        Assert.True(depths.ContainsKey(("tenant-a", "active")));
        // tenant-c is configured but has no job on the queue: nothing to report, and nothing was read for it.
        Assert.DoesNotContain(depths.Keys, k => k.Tenant == "tenant-c");
    }

    [Fact]
    public async Task One_worker_per_queue_reports_depths_recounting_only_changed_tenants_and_another_takes_over_when_it_stops()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "report-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue(queue, 1, o => o.CompletedKeepCount = 0)
            .AddHandler("n", (_, ctx, _) => ctx.PayloadJson == "\"fail\"" ? throw new PermanentJobFailureException("no") : Task.CompletedTask),
            // The host's own worker must not report in the middle: its first heartbeat is ten minutes away.
            serverOptions: o => o.HeartbeatInterval = TimeSpan.FromMinutes(10));
        var storage = host.Storage;
        var lease = TimeSpan.FromMinutes(1);
        await using var valkey = await db.ConnectAsync();
        // The tenant sets of every shard, read as one.
        async Task<string[]> TenantSetAsync() => [.. (await Task.WhenAll(storage.Layout.Shards(queue).Select(shard => valkey.GetDatabase().SetMembersAsync(shard.Tenants))))
            .SelectMany(m => m).Select(v => (string)v!).Order()];

        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync(queue, "n", "\"fail\""));
        await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueAsync(queue, "n", "{}"));
        // B's job is done once it is neither waiting nor active (a completed job is not kept here); "not waiting" alone
        // also holds while it runs.
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync(queue))).Failed == 1
            && (await Tenants.AsAsync(Tenants.B, () => host.Admin.GetCountsAsync(queue))) is { Waiting: 0, Active: 0 }, "A's job fails, B's job completes");

        // A claim just taken: a full report. B's only job completed and was not kept, so B has nothing left.
        var first = await ReportAllAsync(storage, queue, "worker-1", lease, false, []);
        Assert.True(first!.Full);
        Assert.Equal([("tenant-a", new JobCounts(0, 0, 0, 0, 1)), ("tenant-b", new JobCounts(0, 0, 0, 0, 0))], [.. first.Tenants.OrderBy(t => t.Tenant)]);
        Assert.Equal(["tenant-a"], await TenantSetAsync());

        // Nothing changed since: nothing is recounted. Then only the tenant whose counts changed.
        Assert.Equal((false, 0), (await ReportAllAsync(storage, queue, "worker-1", lease, false, [])) is { } quiet ? (quiet.Full, quiet.Tenants.Count) : (true, -1));
        await Tenants.AsAsync(Tenants.C, () => host.Client.EnqueueAsync(queue, "n", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));
        var changed = await ReportAllAsync(storage, queue, "worker-1", lease, false, []);
        Assert.Equal([("tenant-c", new JobCounts(0, 0, 1, 0, 0))], changed!.Tenants);
        Assert.Null(await ReportAllAsync(storage, queue, "worker-2", lease, false, []));

        // worker-1 stops: it gives the claim up, and worker-2's next report is the queue's, in full.
        Assert.Null(await ReportAllAsync(storage, queue, "worker-1", TimeSpan.Zero, false, []));
        var takeover = await ReportAllAsync(storage, queue, "worker-2", lease, false, []);
        Assert.Equal([("tenant-a", new JobCounts(0, 0, 0, 0, 1)), ("tenant-c", new JobCounts(0, 0, 1, 0, 0))], [.. takeover!.Tenants.OrderBy(t => t.Tenant)]);

        // Jobs from before the tenant set existed are found through the configured tenants a worker passes at first.
        foreach (var shard in storage.Layout.Shards(queue))
        {
            await valkey.GetDatabase().KeyDeleteAsync(shard.Tenants);
        }
        Assert.Empty((await ReportAllAsync(storage, queue, "worker-2", lease, true, []))!.Tenants);
        var seeded = await ReportAllAsync(storage, queue, "worker-2", lease, true, ["tenant-a", "tenant-b", "tenant-c"]);
        Assert.Equal([("tenant-a", new JobCounts(0, 0, 0, 0, 1)), ("tenant-b", new JobCounts(0, 0, 0, 0, 0)), ("tenant-c", new JobCounts(0, 0, 1, 0, 0))], [.. seeded!.Tenants.OrderBy(t => t.Tenant)]);
        Assert.Equal(["tenant-a", "tenant-c"], await TenantSetAsync());
    }

    /// <summary>One report per shard, read as one (null when another worker reports every shard).</summary>
    private static async Task<DepthReport?> ReportAllAsync(QueueStorage storage, string queue, string reporter, TimeSpan lease, bool full, IReadOnlyCollection<string> seed)
    {
        var reports = new List<DepthReport>();
        foreach (var shard in storage.Layout.Shards(queue))
        {
            if (await storage.ReportAsync(queue, shard.Index, reporter, lease, full, seed) is { } report)
            {
                reports.Add(report);
            }
        }
        return reports.Count == 0 ? null : new DepthReport(reports.All(r => r.Full), [.. reports.SelectMany(r => r.Tenants)]);
    }

    /// <summary>
    /// The counts function (the dashboard's tenant rows) reads a tenant's states only when it is in the queue's tenant set; one
    /// without jobs costs only its running totals. The answers must be the same as reading everything.
    /// </summary>
    [Fact]
    public async Task Counts_of_tenants_without_jobs_are_zero_and_keep_their_running_totals()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var queue = "counts-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue(queue, 1, o => o.CompletedKeepCount = 0)
            .AddHandler("n", (_, _, _) => Task.CompletedTask),
            serverOptions: o => o.HeartbeatInterval = TimeSpan.FromMinutes(10));
        var storage = host.Storage;
        await using var valkey = await db.ConnectAsync();

        // B runs two jobs, none kept; a full report then finds B with no job and takes it out of the tenant set.
        await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueBulkAsync(queue, [new JobRequest("n", "{}"), new JobRequest("n", "{}")]));
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.B, () => host.Admin.GetCountsAsync(queue))) is { Waiting: 0, Active: 0 }, "B's jobs complete");
        await ReportAllAsync(storage, queue, "worker-1", TimeSpan.FromMinutes(1), true, []);
        Assert.False(await valkey.GetDatabase().SetContainsAsync(storage.Layout.ShardFor(queue, "tenant-b").Tenants, "tenant-b"));
        // A has only a delayed job: it is in the set and counted.
        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync(queue, "n", "{}", new EnqueueOptions { Delay = TimeSpan.FromHours(1) }));

        var counts = await storage.TenantCountsAsync(queue, ["tenant-a", "tenant-b", "tenant-c"]);

        Assert.Equal(
            [("tenant-a", new JobCounts(0, 0, 1, 0, 0), 0L), ("tenant-b", new JobCounts(0, 0, 0, 0, 0), 2L), ("tenant-c", new JobCounts(0, 0, 0, 0, 0), 0L)],
            [.. counts.Select(c => (c.Tenant, c.Counts, c.CompletedTotal))]);
        Assert.All(counts, c => Assert.Null(c.OldestWaitingSince));
    }
}

public sealed class ValkeyConnectionTests
{
    private static string Endpoint(StackExchange.Redis.ConfigurationOptions options)
    {
        var endpoint = Assert.IsType<System.Net.DnsEndPoint>(Assert.Single(options.EndPoints));
        return $"{endpoint.Host}:{endpoint.Port}";
    }

    [Fact]
    public void A_valkey_url_with_password_and_database_becomes_a_configuration()
    {
        var options = ValkeyConnection.Parse("valkey://:s%40cret@cache.internal:6380/2");

        Assert.Equal("cache.internal:6380", Endpoint(options));
        Assert.Equal("s@cret", options.Password);
        Assert.Null(options.User);
        Assert.Equal(2, options.DefaultDatabase);
        Assert.False(options.Ssl);
    }

    [Theory]
    [InlineData("redis://localhost", "localhost:6379", false, null, null)]
    [InlineData("rediss://user:pw@h:7000", "h:7000", true, "user", "pw")]
    [InlineData("valkeys://h", "h:6379", true, null, null)]
    [InlineData("valkey://secret@h:1", "h:1", false, null, "secret")]
    public void Url_forms_map_to_endpoint_tls_user_and_password(string url, string endpoint, bool tls, string? user, string? password)
    {
        var options = ValkeyConnection.Parse(url);

        Assert.Equal(endpoint, Endpoint(options));
        Assert.Equal((tls, user, password), (options.Ssl, options.User, options.Password));
    }

    [Fact]
    public void A_connection_string_is_taken_as_is()
    {
        var options = ValkeyConnection.Parse("localhost:6390,password=pw");

        Assert.Equal("localhost:6390", Endpoint(options));
        Assert.Equal("pw", options.Password);
    }

    [Fact]
    public void An_unknown_scheme_is_refused_by_name()
    {
        var error = Assert.Throws<FormatException>(() => ValkeyConnection.Parse("http://h:1"));

        Assert.Contains("'http'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_aspire_connection_string_wins_over_VALKEY_URL()
    {
        var both = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:valkey"] = "a:1",
            ["VALKEY_URL"] = "valkey://b:2",
        }).Build();
        var urlOnly = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["VALKEY_URL"] = "valkey://b:2" }).Build();

        Assert.Equal("a:1", ValkeyConnection.FromConfiguration(both));
        Assert.Equal("valkey://b:2", ValkeyConnection.FromConfiguration(urlOnly));
    }
}
