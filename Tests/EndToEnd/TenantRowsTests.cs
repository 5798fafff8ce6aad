using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Hosting.Tenants;
using Microsoft.Extensions.DependencyInjection;
using Tests.AppHost;
using Tests.Otlp;
using static Tests.EndToEnd.TopologyClient;

namespace Tests.EndToEnd;

/// <summary>
/// The tenant rows of the real AppHost: one per tenant with live state, and the operator commands the dashboard and
/// <c>aspire resource</c> run. Pausing tenant B holds its next forecast job while tenant A's runs; resuming lets it run.
/// </summary>
public sealed class TenantRowsTests
{
    private const string TenantA = "tenant-a";
    private const string TenantB = "tenant-b";
    private static readonly TimeSpan PauseReachesEveryWorker = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task Pausing_a_tenant_holds_its_jobs_while_the_other_tenant_runs_and_resuming_lets_them_run()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var scope = AppHostScope.Create();
        await using var otlp = await OtlpReceiver.StartAsync(cancellationToken);
        var builder = await scope.BuilderAsync([TenantA, TenantB]);
        ExportTelemetryTo(builder, otlp);
        Assert.Equal(
            [TenantA, TenantB],
            builder.Resources.OfType<TenantResource>().Select(t => t.Name).Order());

        await using var app = await builder.BuildAsync(cancellationToken);
        await StartAsync(app, [$"web-{TenantA}", $"web-{TenantB}", "workers"], (TenantA, TenantStates.Healthy), (TenantB, TenantStates.Healthy));
        var commands = app.Services.GetRequiredService<ResourceCommandService>();

        var paused = await commands.ExecuteCommandAsync(TenantB, TenantBuilderExtensions.PauseCommand, cancellationToken);
        Assert.True(paused.Success, paused.Message);
        await app.ResourceNotifications.WaitForResourceAsync(TenantB, TenantStates.Paused, cancellationToken);
        var again = await commands.ExecuteCommandAsync(TenantB, TenantBuilderExtensions.PauseCommand, cancellationToken);
        Assert.True(again.Success, again.Message);
        Assert.Contains("already paused", again.Message, StringComparison.Ordinal);
        // A pause reaches every worker within seconds: at once over pub/sub, at the latest at its next safety poll of
        // the holds (5 s). Wait that bound out, so the job below is enqueued after every worker knows.
        await Task.Delay(PauseReachesEveryWorker, cancellationToken);

        // The same action in both tenants: a result recorded, whose forecast job each tenant's worker share runs.
        using var webA = app.CreateHttpClient($"web-{TenantA}");
        using var webB = app.CreateHttpClient($"web-{TenantB}");
        var email = await ParameterAsync(app, "admin-email");
        await SignInAsync(webA, email, await ParameterAsync(app, $"admin-password-{TenantA}"));
        await SignInAsync(webB, email, await ParameterAsync(app, $"admin-password-{TenantB}"));
        await RecordAResultAsync(webB);
        await RecordAResultAsync(webA);

        await EventuallyAsync(async () => await ForecastCountsAsync(webA) is { } a && (long)a["completed"]! >= 1 ? a : null, "tenant A's forecast job to complete");
        var held = await EventuallyAsync(async () => await ForecastCountsAsync(webB) is { } b && (long)b["waiting"]! >= 1 ? b : null, "tenant B's forecast job to wait");
        Assert.Equal(0, (long)held["completed"]!);
        Assert.Equal(0, (long)held["failed"]!);
        var hold = await GetJsonAsync(webB, "/api/admin/queues");
        Assert.NotNull(hold["hold"]);

        var resumed = await commands.ExecuteCommandAsync(TenantB, TenantBuilderExtensions.ResumeCommand, cancellationToken);
        Assert.True(resumed.Success, resumed.Message);
        await EventuallyAsync(async () => await ForecastCountsAsync(webB) is { } b && (long)b["completed"]! >= 1 ? b : null, "tenant B's forecast job to complete after the resume");
        await app.ResourceNotifications.WaitForResourceAsync(TenantB, TenantStates.Healthy, cancellationToken);

        var retried = await commands.ExecuteCommandAsync(TenantA, TenantBuilderExtensions.RetryCommand, cancellationToken);
        Assert.True(retried.Success, retried.Message);
        Assert.Contains("Put 0 failed job(s)", retried.Message, StringComparison.Ordinal);

        await Every_span_and_log_record_of_a_job_carries_the_jobs_tenant(otlp);
    }

    /// <summary>
    /// The worker ran jobs of both tenants: every span and every log record of the workers in a job's trace (the
    /// consumer span and everything under it: database calls, the handler's and the engine's lines) carries the
    /// tenant of that job.
    /// </summary>
    private static async Task Every_span_and_log_record_of_a_job_carries_the_jobs_tenant(OtlpReceiver otlp)
    {
        var consumers = await EventuallyAsync(() => Task.FromResult(
                otlp.Spans.Where(s => s.Service == "workers" && s.Kind == "Consumer").ToList() is { } spans
                && spans.Select(s => s.Attribute("tenant.id")).Distinct().Count() >= 2 ? spans : null),
            "consumer spans of both tenants' jobs");
        var tenantOfTrace = consumers.GroupBy(c => c.TraceId).ToDictionary(g => g.Key, g => g.Select(c => c.Attribute("tenant.id")).Distinct().Single());
        Assert.Contains(TenantA, tenantOfTrace.Values);
        Assert.Contains(TenantB, tenantOfTrace.Values);

        var jobSpans = otlp.Spans.Where(s => s.Service == "workers" && tenantOfTrace.ContainsKey(s.TraceId)).ToList();
        Assert.All(jobSpans, span => Assert.True(span.Attribute("tenant.id") == tenantOfTrace[span.TraceId], $"without tenant.id = {tenantOfTrace[span.TraceId]}: {span.Describe()}"));
        var jobLogs = otlp.Logs.Where(l => l.Service == "workers" && l.TraceId is { } trace && tenantOfTrace.ContainsKey(trace)).ToList();
        Assert.Contains(jobLogs, l => l.Message.StartsWith("Processing ", StringComparison.Ordinal));
        Assert.All(jobLogs, log => Assert.True(log.Attributes.GetValueOrDefault("tenant.id") == tenantOfTrace[log.TraceId!], $"without tenant.id = {tenantOfTrace[log.TraceId!]}: {log.Message}"));
    }
}
