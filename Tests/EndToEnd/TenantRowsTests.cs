using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Hosting.Tenants;
using Hosting.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tests.AppHost;
using Tests.Otlp;
using Tests.Tenancy;
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

        var console = new CapturingLoggerProvider();
        builder.Services.AddLogging(logging => logging.AddProvider(console));

        await using var app = await builder.BuildAsync(cancellationToken);
        await StartAsync(app, [$"web-{TenantA}", $"web-{TenantB}", "workers"], (TenantA, TenantStates.Healthy), (TenantB, TenantStates.Healthy));
        await A_healthy_start_logs_nothing_at_warning_and_the_console_names_each_tenants_address(app, console, otlp);
        A_tenant_row_shows_its_figures_and_links_at_a_glance(app);
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
    /// Once everything is healthy the AppHost's console says where each tenant's web app and sign-in are; nothing of
    /// the start (the topology's console, any service's log) was at Warning or above.
    /// </summary>
    private static async Task A_healthy_start_logs_nothing_at_warning_and_the_console_names_each_tenants_address(
        DistributedApplication app, CapturingLoggerProvider console, OtlpReceiver otlp)
    {
        var ready = await EventuallyAsync(() => Task.FromResult(console.Entries.FirstOrDefault(e =>
            e.Category == TopologyConsoleExtensions.LoggerCategory && e.Message.StartsWith("Topology ready", StringComparison.Ordinal))), "the console's ready announcement");
        foreach (var tenant in new[] { TenantA, TenantB })
        {
            var web = app.GetEndpoint($"web-{tenant}", "http").ToString().TrimEnd('/');
            Assert.Contains($"{tenant}", ready.Message, StringComparison.Ordinal);
            Assert.Contains($"sign in at {web}/signin as admin@example.test, password: parameter admin-password-{tenant}", ready.Message, StringComparison.Ordinal);
        }
        Assert.DoesNotContain(console.Entries, e => e.Category == TopologyConsoleExtensions.LoggerCategory && e.Level >= LogLevel.Warning);

        // The services' records of the start, flushed by now (batches every 500 ms): none at Warning or above.
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        var loud = otlp.Logs.Where(l => l.SeverityNumber >= WarningSeverity).Select(l => $"{l.Service}: {l.Message}").ToList();
        Assert.True(loud.Count == 0, string.Join("\n", loud));
    }

    /// <summary>The OTLP severity number of Warning (WARN is 13 to 16).</summary>
    private const int WarningSeverity = 13;

    /// <summary>
    /// The dashboard's details pane shows without "Show all" only the properties it knows and those marked highlighted:
    /// every figure of a tenant row is, in the board's order (summary, jobs now, the last 5 minutes, each queue), and
    /// its links carry display names (a bare address would show its query string masked).
    /// </summary>
    private static void A_tenant_row_shows_its_figures_and_links_at_a_glance(DistributedApplication app)
    {
        Assert.True(app.ResourceNotifications.TryGetCurrentState(TenantA, out var row));
        var figures = row.Snapshot.Properties.Where(p => p.Name.StartsWith("tenant.", StringComparison.Ordinal)).OrderBy(p => p.SortOrder).ToList();
        Assert.All(figures, p => Assert.True(p.IsHighlighted, $"{p.Name} is not highlighted"));
        Assert.Equal(
            ["tenant.summary", "tenant.jobs.waiting", "tenant.jobs.active", "tenant.jobs.delayed", "tenant.jobs.failed", "tenant.jobs.oldest-wait",
             "tenant.window.completed", "tenant.window.failed", "tenant.window.throughput"],
            figures.Select(p => p.Name).Take(9));
        Assert.Equal(["Summary", "Jobs waiting"], figures.Select(p => p.DisplayName).Take(2));
        Assert.Contains(figures, p => p.Name == "tenant.queue.forecast-updates");
        Assert.Equal(["Web app", "Admin > Job Queues"],
            row.Snapshot.Urls.OrderByDescending(u => u.DisplayProperties.SortOrder).Select(u => u.DisplayProperties.DisplayName).Take(2));
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
