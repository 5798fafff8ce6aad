using Queue;
using Queue.Storage;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class SignatureTests(TestServers servers)
{
    [Theory]
    [InlineData("n", "\"evil-name\"")]
    [InlineData("p", "{\"to\":\"attacker@example.com\"}")]
    public async Task A_job_whose_name_or_payload_was_tampered_with_fails_without_running(string field, string value)
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        string id;
        await using (var producer = await QueueHost.StartAsync(db, settings))
        {
            id = (await Tenants.AsAsync(Tenants.A, () => producer.Client.EnqueueAsync("emails", "send-email", "{\"to\":\"user@example.com\"}"))).Id;
            // A sealed payload is changed where it is stored: in its encrypted bytes.
            await producer.Storage.TamperAsync("emails", "tenant-a", id, d => field == "n" ? d with { Name = "evil-name" }
                : d.Sealed is { } sealedBytes ? d with { Sealed = [.. sealedBytes[..^1], (byte)(sealedBytes[^1] ^ 1)] } : d with { Payload = value });
        }
        var ran = 0;
        await using var worker = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("emails", 1)
            .AddHandler("send-email", (_, _, _) => Task.FromResult(Interlocked.Increment(ref ran)))
            .AddHandler("evil-name", (_, _, _) => Task.FromResult(Interlocked.Increment(ref ran))));

        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("emails", id)))?.State == JobState.Failed, "the job fails");

        Assert.Equal(0, ran);
        var error = (await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("emails", id)))!.Error;
        Assert.Contains("tampered", error, StringComparison.Ordinal);
        Assert.Contains("The handler did not run.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_moved_to_another_tenant_fails_without_running()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        await using var producer = await QueueHost.StartAsync(db, settings);
        var id = (await Tenants.AsAsync(Tenants.A, () => producer.Client.EnqueueAsync("emails", "send-email", "{}"))).Id;
        var data = (await producer.Storage.ReadDataAsync("emails", "tenant-a", id))!;
        // Tenant A's job, as stored (sealed with A's key, or signed with it when encryption is off), planted under
        // tenant B, as a compromised producer might.
        await producer.Storage.EnqueueAsync("emails", [new JobRecord("tenant-b", id, data, 0, 0)], 0);
        await Tenants.AsAsync(Tenants.A, () => producer.Admin.RemoveAsync("emails", id));
        var ranFor = new List<string?>();
        await using var worker = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("emails", 1)
            .AddHandler("send-email", (_, ctx, _) =>
            {
                lock (ranFor)
                {
                    ranFor.Add(ctx.Tenant?.Value);
                }
                return Task.CompletedTask;
            }));

        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.B, () => worker.Admin.GetJobAsync("emails", id)))?.State == JobState.Failed, "the job fails");

        Assert.Empty(ranFor);
        Assert.Contains(data.Sealed is null ? "failed signature verification" : "does not open with its tenant's key",
            (await Tenants.AsAsync(Tenants.B, () => worker.Admin.GetJobAsync("emails", id)))!.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_with_unreadable_stored_data_fails_and_the_worker_carries_on()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        string corrupt;
        await using (var producer = await QueueHost.StartAsync(db, settings))
        {
            corrupt = (await Tenants.AsAsync(Tenants.A, () => producer.Client.EnqueueAsync("emails", "send-email", "{}"))).Id;
            using var redis = await db.ConnectAsync();
            await redis.GetDatabase().HashSetAsync(producer.Storage.Layout.TenantKey("emails", "tenant-a", "d"), corrupt, "not job data");
        }
        var ran = new TaskCompletionSource();
        await using var worker = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("emails", 1)
            .AddHandler("send-email", (_, _, _) =>
            {
                ran.TrySetResult();
                return Task.CompletedTask;
            }));

        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => worker.Admin.GetJobAsync("emails", corrupt)))?.State == JobState.Failed, "the corrupt job fails");
        Assert.False(ran.Task.IsCompleted);
        await Tenants.AsAsync(Tenants.A, () => worker.Client.EnqueueAsync("emails", "send-email", "{}"));
        await ran.Task.WaitAsync(Wait.Timeout);
    }

    [Fact]
    public async Task Enqueue_is_refused_for_a_tenant_without_a_signing_key()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings().With("tenant-nokey", signingKey: ""));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Tenants.AsAsync(global::Tenancy.TenantId.Parse("tenant-nokey"), () => host.Client.EnqueueAsync("emails", "send-email", "{}")));

        Assert.Contains("tenant 'tenant-nokey' has no signing key configured", error.Message, StringComparison.Ordinal);
    }
}

public sealed class TenantlessJobTests(TestServers servers)
{
    [Fact]
    public async Task Enqueue_without_a_tenant_is_refused_in_multi_tenant_mode()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.Client.EnqueueAsync("emails", "send-email", "{}"));

        Assert.Contains("no tenant is current, and in multi-tenant mode every job must carry a tenant", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tenantless_job_planted_in_storage_fails_at_processing_in_multi_tenant_mode()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var ran = 0;
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("emails", 1)
            .AddHandler("send-email", (_, _, _) => Task.FromResult(Interlocked.Increment(ref ran))));

        await host.Storage.EnqueueAsync("emails", [new JobRecord(QueueLayout.NoTenant, "planted", "send-email", "{}", "", "", 0, 0, 0)], 0);

        await Wait.UntilAsync(async () => (await host.Storage.GetAsync("emails", QueueLayout.NoTenant, "planted"))?.State == JobState.Failed, "the job fails");
        Assert.Equal(0, ran);
        Assert.Equal("Job planted on queue emails has no tenant; in multi-tenant mode every job must carry one, so it was failed without running.",
            (await host.Storage.GetAsync("emails", QueueLayout.NoTenant, "planted"))!.Error);
    }

    [Fact]
    public async Task A_job_of_an_unknown_tenant_fails_with_no_configuration_found()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue("emails", 1).AddHandler("send-email", (_, _, _) => Task.CompletedTask));

        await host.Storage.EnqueueAsync("emails", [new JobRecord("tenant-gone", "j1", "send-email", "{}", "x", "", 0, 0, 0)], 0);

        await Wait.UntilAsync(async () => (await host.Storage.GetAsync("emails", "tenant-gone", "j1"))?.State == JobState.Failed, "the job fails");
        Assert.Equal("No configuration found for tenant: tenant-gone", (await host.Storage.GetAsync("emails", "tenant-gone", "j1"))!.Error);
    }

    [Fact]
    public async Task A_job_of_a_tenant_without_a_signing_key_fails_at_processing()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var ran = 0;
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings().With("tenant-nokey", signingKey: ""), s => s
            .AddQueue("emails", 1)
            .AddHandler("send-email", (_, _, _) => Task.FromResult(Interlocked.Increment(ref ran))));

        await host.Storage.EnqueueAsync("emails", [new JobRecord("tenant-nokey", "j1", "send-email", "{}", "", "", 0, 0, 0)], 0);

        await Wait.UntilAsync(async () => (await host.Storage.GetAsync("emails", "tenant-nokey", "j1"))?.State == JobState.Failed, "the job fails");
        Assert.Equal(0, ran);
        Assert.Equal("Tenant tenant-nokey has no signing key configured, so job j1 cannot be authenticated and was failed without running.",
            (await host.Storage.GetAsync("emails", "tenant-nokey", "j1"))!.Error);
    }

    [Fact]
    public async Task A_single_tenant_deployment_runs_tenantless_jobs_signed_with_its_own_key()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var ran = new TaskCompletionSource<global::Tenancy.TenantId?>();
        await using var host = await QueueHost.StartAsync(db, new FakeTenantSettings(multiTenant: false), s => s
            .AddQueue("emails", 1)
            .AddHandler("send-email", (_, ctx, _) =>
            {
                ran.TrySetResult(ctx.Tenant);
                return Task.CompletedTask;
            }), options: o => o.SingleTenantSigningKey = "single-key");

        var job = await host.Client.EnqueueAsync("emails", "send-email", "{}");

        Assert.Null(await ran.Task.WaitAsync(Wait.Timeout));
        Assert.Null((await host.Admin.GetJobAsync("emails", job.Id))!.Tenant);
    }
}

public sealed class FairnessTests(TestServers servers)
{
    [Fact]
    public async Task A_quiet_tenant_is_served_within_a_few_dispatches_while_another_floods_the_queue()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        await using (var producer = await QueueHost.StartAsync(db, settings))
        {
            await Tenants.AsAsync(Tenants.A, () => producer.Client.EnqueueBulkAsync("flood",
                [.. Enumerable.Range(0, 10_000).Select(i => new JobRequest("n", "{}"))]));
            await Tenants.AsAsync(Tenants.B, () => producer.Client.EnqueueAsync("flood", "n", "{}", new EnqueueOptions { JobId = "quiet" }));
        }
        var order = new List<string>();
        var quietServed = new TaskCompletionSource<int>();
        await using var worker = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("flood", 4)
            .AddHandler("n", (_, ctx, _) =>
            {
                lock (order)
                {
                    order.Add(ctx.Tenant!.Value.Value);
                    if (ctx.Id == "quiet")
                    {
                        quietServed.TrySetResult(order.Count);
                    }
                }
                return Task.CompletedTask;
            }));

        var position = await quietServed.Task.WaitAsync(Wait.Timeout);

        Assert.True(position <= 8, $"tenant B's job was dispatched as number {position}");
    }
}
