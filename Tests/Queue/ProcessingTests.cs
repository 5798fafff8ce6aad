using System.Collections.Concurrent;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Queue;

public sealed class ProcessingTests(TestServers servers)
{
    [Fact]
    public async Task A_job_runs_in_its_tenant_scope_and_logs_the_processing_line()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var seen = new TaskCompletionSource<(TenantId? Ambient, TenantId? Context, string Payload, int Attempt)>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("emails", 2)
            .AddHandler("send-email", (sp, ctx, _) =>
            {
                seen.TrySetResult((new AmbientCurrentTenant().Id, ctx.Tenant, ctx.PayloadJson, ctx.Attempt));
                return Task.CompletedTask;
            }));

        var result = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", "{\"to\":\"x@y\"}"));
        var run = await seen.Task.WaitAsync(Wait.Timeout);

        Assert.True(result.Added);
        Assert.Equal(Tenants.A, run.Ambient);
        Assert.Equal(Tenants.A, run.Context);
        Assert.Equal("{\"to\":\"x@y\"}", run.Payload);
        Assert.Equal(1, run.Attempt);
        await Wait.UntilAsync(() => host.Logs.Lines.Contains($"Processing emails job {result.Id} of type send-email for tenant tenant-a"), "the processing line is logged");
        await Wait.UntilAsync(async () => (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("emails"))).Completed == 1, "the job is completed");
    }

    [Fact]
    public async Task Enqueueing_an_existing_job_id_again_adds_nothing()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings());
        var options = new EnqueueOptions { JobId = "order-42" };

        var first = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", "{}", options));
        var second = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", "{\"other\":1}", options));
        var otherTenant = await Tenants.AsAsync(Tenants.B, () => host.Client.EnqueueAsync("emails", "send-email", "{}", options));

        Assert.True(first.Added);
        Assert.False(second.Added);
        Assert.True(otherTenant.Added);
        var counts = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("emails"));
        Assert.Equal(1, counts.Waiting);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("emails", "order-42"));
        Assert.Equal("{}", job!.Payload);
    }

    [Fact]
    public async Task Bulk_enqueue_adds_every_job_and_reports_duplicates_in_order()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings());
        var jobs = Enumerable.Range(0, 1200).Select(i => new JobRequest("n", "{}", new EnqueueOptions { JobId = $"j{i % 1000}" })).ToList();

        var results = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueBulkAsync("bulk", jobs));

        Assert.Equal(1000, results.Count(r => r.Added));
        Assert.All(results.Skip(1000), r => Assert.False(r.Added));
        Assert.Equal(1000, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("bulk"))).Waiting);
    }

    [Fact]
    public async Task Higher_priority_jobs_run_first_then_in_enqueue_order()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        await using (var producer = await QueueHost.StartAsync(db, settings))
        {
            await Tenants.AsAsync(Tenants.A, () => producer.Client.EnqueueBulkAsync("prio",
            [
                new JobRequest("n", "{}", new EnqueueOptions { JobId = "low-1" }),
                new JobRequest("n", "{}", new EnqueueOptions { JobId = "high", Priority = 10 }),
                new JobRequest("n", "{}", new EnqueueOptions { JobId = "low-2" }),
                new JobRequest("n", "{}", new EnqueueOptions { JobId = "urgent", Priority = 100 }),
            ]));
        }
        var order = new ConcurrentQueue<string>();
        await using var worker = await QueueHost.StartAsync(db, settings, s => s
            .AddQueue("prio", 1)
            .AddHandler("n", (_, ctx, _) =>
            {
                order.Enqueue(ctx.Id);
                return Task.CompletedTask;
            }));

        await Wait.UntilAsync(() => order.Count == 4, "all four ran");

        Assert.Equal(["urgent", "high", "low-1", "low-2"], order);
    }

    [Fact]
    public async Task A_payload_over_the_limit_is_refused_with_the_sizes()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), options: o => o.MaxPayloadBytes = 100);
        var payload = "\"" + new string('x', 120) + "\"";

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", payload)));

        Assert.Contains("is 122 bytes; the limit is 100 bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("emails"))).Waiting);
    }

    [Fact]
    public async Task A_given_trace_parent_is_the_jobs_and_a_malformed_one_is_refused_naming_it()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings());
        const string parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

        var added = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", "{}", new EnqueueOptions { TraceParent = parent }));
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", "{}", new EnqueueOptions { TraceParent = "not-a-trace" })));

        Assert.Equal(parent, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("emails", added.Id)))?.TraceParent);
        Assert.Contains("TraceParent 'not-a-trace' of job 'send-email' is not a W3C traceparent", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetCountsAsync("emails"))).Waiting);
    }

    [Fact]
    public async Task An_idle_worker_is_woken_by_the_enqueue_message_not_by_polling()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        // A fake clock that never moves: no timer or poll can fire, so only the pub/sub wake-up can start the job.
        var frozen = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var ran = new TaskCompletionSource();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("idle", 1)
            .AddHandler("n", (_, _, _) =>
            {
                ran.TrySetResult();
                return Task.CompletedTask;
            }), time: frozen);
        await Task.Delay(200);

        await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("idle", "n", "{}"));

        await ran.Task.WaitAsync(Wait.Timeout);
    }

    [Fact]
    public async Task Handlers_always_see_their_own_jobs_tenant_under_concurrency()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var mismatches = new ConcurrentQueue<string>();
        var done = 0;
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s
            .AddQueue("mixed", 16)
            .AddHandler<TenantEchoHandler>("echo"),
            services: sc => sc.AddScopedTenantProbe(mismatches, () => Interlocked.Increment(ref done)));
        var tenants = new[] { Tenants.A, Tenants.B, Tenants.C };

        foreach (var tenant in tenants)
        {
            await Tenants.AsAsync(tenant, () => host.Client.EnqueueBulkAsync("mixed",
                [.. Enumerable.Range(0, 300).Select(i => new JobRequest("echo", $"\"{tenant.Value}\""))]));
        }

        await Wait.UntilAsync(() => Volatile.Read(ref done) == 900, "all 900 jobs ran");
        Assert.Empty(mismatches);
    }
}

/// <summary>Checks, across awaits, that the ambient tenant and a scoped service's tenant are the job's.</summary>
internal sealed class TenantEchoHandler(ICurrentTenant current, TenantProbe probe) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var expected = context.GetPayload<string>();
        for (var i = 0; i < 3; i++)
        {
            if (current.Id?.Value != expected || probe.TenantAtCreation?.Value != expected || context.Tenant?.Value != expected)
            {
                probe.Mismatches.Enqueue($"{context.Id}: expected {expected}, ambient {current.Id}, scoped {probe.TenantAtCreation}");
            }
            await Task.Delay(Random.Shared.Next(0, 3), cancellationToken);
        }
        probe.Done();
    }
}

/// <summary>A scoped service recording the tenant current when the job's scope created it.</summary>
internal sealed class TenantProbe(ICurrentTenant current, ConcurrentQueue<string> mismatches, Func<int> done)
{
    public TenantId? TenantAtCreation { get; } = current.Id;

    public ConcurrentQueue<string> Mismatches => mismatches;

    public void Done() => done();
}

internal static class TenantProbeRegistration
{
    public static void AddScopedTenantProbe(this Microsoft.Extensions.DependencyInjection.IServiceCollection services, ConcurrentQueue<string> mismatches, Func<int> done) =>
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddScoped(services,
            sp => new TenantProbe(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ICurrentTenant>(sp), mismatches, done));
}
