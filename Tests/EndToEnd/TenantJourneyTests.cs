using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Npgsql;
using Tests.AppHost;
using Tests.Otlp;
using static Tests.EndToEnd.TopologyClient;
using OtlpSpanKind = OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind;

namespace Tests.EndToEnd;

/// <summary>
/// The real AppHost through Aspire.Hosting.Testing, two tenants, one signed-in action: a failed result recorded in
/// tenant A's web app travels through the shared worker to A's database, A's mail and A's traces, and nothing of it
/// shows from tenant B. The projects export their telemetry to a receiver of the test's instead of a dashboard.
/// </summary>
public sealed class TenantJourneyTests
{
    private const string TenantA = "tenant-a";
    private const string TenantB = "tenant-b";


    [Fact]
    public async Task A_failed_result_in_tenant_a_notifies_mails_and_traces_within_tenant_a_and_is_invisible_to_tenant_b()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var scope = AppHostScope.Create();
        await using var otlp = await OtlpReceiver.StartAsync(cancellationToken);
        var builder = await scope.BuilderAsync([TenantA, TenantB]);
        ExportTelemetryTo(builder, otlp);

        await using (var app = await builder.BuildAsync(cancellationToken))
        {
            await StartAsync(app, [$"web-{TenantA}", $"web-{TenantB}", "workers"]);
            var adminEmail = await ParameterAsync(app, "admin-email");

            // Tenant A: the seeded admin records a failed result; a second admin wants every notification by email.
            using var webA = app.CreateHttpClient($"web-{TenantA}");
            await SignInAsync(webA, adminEmail, await ParameterAsync(app, $"admin-password-{TenantA}"));
            var colleague = $"colleague-{Guid.NewGuid():N}@example.test";
            await PostAsync(webA, "/api/users", new { email = colleague, name = "Second Admin", password = "colleague-password-1", isAdmin = true, emailPreference = "Immediate" });
            var projectId = (long)(await PostAsync(webA, "/api/projects", new { name = "Checkout" }))["id"]!;
            var caseId = (long)(await PostAsync(webA, $"/api/projects/{projectId}/cases", new { title = "Pay by card" }))["id"]!;
            var runId = (long)(await PostAsync(webA, $"/api/projects/{projectId}/runs", new { name = "Nightly" }))["id"]!;
            await PostAsync(webA, $"/api/runs/{runId}/results", new { results = new[] { new { caseId, status = "Failed", elapsedMs = 1200 } } });

            await Tenant_a_database_has_the_notifications_and_tenant_b_none(app, runId, colleague);
            await The_mail_to_the_colleague_links_to_tenant_a_only(app, scope, runId, colleague);
            var createNotification = await A_job_id_from_tenant_a_admin(webA);
            await The_trace_of_the_request_reaches_the_worker_database_call_all_in_tenant_a(otlp, runId, createNotification);
            await The_workers_log_lines_of_tenant_a_jobs_carry_tenant_a(otlp);
            await Tenant_b_sees_none_of_tenant_a_jobs(app, adminEmail, await ParameterAsync(app, $"admin-password-{TenantB}"), createNotification);
        }

        // Disposing the application stops DCP and every process it started: none of the local servers is left.
        await global::Tests.Infrastructure.Wait.UntilAsync(() => scope.ProcessesMentioningRoot().Count == 0, "the local servers to stop");
    }

    private static async Task Tenant_a_database_has_the_notifications_and_tenant_b_none(DistributedApplication app, long runId, string colleague)
    {
        const string Count = "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.link = @link AND u.email = @email";
        var inA = await EventuallyAsync<object>(
            async () => await ScalarAsync(app, $"db-{TenantA}", Count, runId, colleague) is > 0 and var count ? count : null,
            "tenant A's notification row");
        Assert.Equal(1L, inA);
        Assert.Equal(0, await ScalarAsync(app, $"db-{TenantB}", "SELECT count(*) FROM notifications", runId, colleague));
    }

    private static async Task The_mail_to_the_colleague_links_to_tenant_a_only(DistributedApplication app, AppHostScope scope, long runId, string colleague)
    {
        var maildir = Path.Combine(scope.StateDirectory, "smtp", "maildir", "new");
        var mail = await EventuallyAsync(() => Task.FromResult(
            Directory.Exists(maildir)
                ? Directory.GetFiles(maildir).Select(file => MimeMessage.Load(file)).FirstOrDefault(m => m.To.Mailboxes.Any(a => a.Address == colleague))
                : null), $"the mail to {colleague}");

        using var webA = app.CreateHttpClient($"web-{TenantA}");
        using var webB = app.CreateHttpClient($"web-{TenantB}");
        var body = mail.TextBody ?? mail.HtmlBody ?? string.Empty;
        Assert.Contains(new Uri(webA.BaseAddress!, $"/runs/{runId}").ToString(), body, StringComparison.Ordinal);
        Assert.DoesNotContain(webB.BaseAddress!.Authority, body, StringComparison.Ordinal);
        Assert.DoesNotContain(TenantB, body + mail.Subject, StringComparison.Ordinal);
    }

    private static async Task<string> A_job_id_from_tenant_a_admin(HttpClient webA)
    {
        var job = await EventuallyAsync(async () =>
            (await GetJsonAsync(webA, "/api/admin/queues/notifications/jobs?state=completed"))["items"]!.AsArray()
                .FirstOrDefault(j => (string?)j!["name"] == "create-notification"),
            "tenant A's completed create-notification job");
        Assert.Equal(TenantA, (string?)job!["tenant"]);
        return (string)job["id"]!;
    }

    private static async Task The_trace_of_the_request_reaches_the_worker_database_call_all_in_tenant_a(OtlpReceiver otlp, long runId, string createNotificationJobId)
    {
        var request = await EventuallyAsync(() => Task.FromResult(otlp.Spans.FirstOrDefault(s =>
                s.Service == $"web-{TenantA}" && s.Kind == nameof(OtlpSpanKind.Server) && s.Attribute("url.path") == $"/api/runs/{runId}/results")),
            "the span of POST /api/runs/{id}/results");

        (SpanRecord Consumer, SpanRecord Database)? Journey(List<SpanRecord> trace)
        {
            var consumer = trace.FirstOrDefault(s => s.Service == "workers" && s.Kind == nameof(OtlpSpanKind.Consumer) && s.Attribute("job.name") == "create-notification");
            var database = consumer is null ? null : trace.FirstOrDefault(s =>
                s.Service == "workers" && (s.Attribute("db.system") ?? s.Attribute("db.system.name")) == "postgresql" && IsUnder(s, consumer, trace));
            return consumer is not null && database is not null ? (consumer, database) : null;
        }

        var trace = await EventuallyAsync(() =>
        {
            var spans = otlp.Spans.Where(s => s.TraceId == request.TraceId).ToList();
            return Task.FromResult(Journey(spans) is null ? null : spans);
        }, "the worker's create-notification consumer span and its database span in the request's trace");

        var output = TestContext.Current.TestOutputHelper;
        foreach (var span in trace)
        {
            output?.WriteLine(span.Describe());
        }
        var (consumer, database) = Journey(trace)!.Value;
        var producers = trace.Where(s => s.Kind == nameof(OtlpSpanKind.Producer) && s.Service == $"web-{TenantA}").ToList();
        Assert.Contains(producers, p => p.Attribute("messaging.destination.name") == "notifications" && IsUnder(p, request, trace));
        Assert.Contains(producers, p => p.Attribute("messaging.destination.name") == "forecast-updates");
        Assert.Contains(producers, p => p.SpanId == consumer.ParentSpanId);
        Assert.Equal(createNotificationJobId, consumer.Attribute("messaging.message.id"));
        Assert.True(IsUnder(database, consumer, trace), database.Describe());
        Assert.All(trace, span => Assert.True(span.Attribute("tenant.id") == TenantA, $"without tenant.id = {TenantA}: {span.Describe()}"));
    }

    /// <summary>
    /// The engine's own lifecycle lines (written outside the job's tenant scope) and the handlers' lines both carry
    /// <c>tenant.id</c>, so the dashboard's structured logs filtered by tenant show the worker's Processing lines.
    /// </summary>
    private static async Task The_workers_log_lines_of_tenant_a_jobs_carry_tenant_a(OtlpReceiver otlp)
    {
        var processing = await EventuallyAsync(() => Task.FromResult(
                otlp.Logs.Where(l => l.Service == "workers" && l.Message.StartsWith("Processing ", StringComparison.Ordinal) && l.Message.EndsWith($"for tenant {TenantA}", StringComparison.Ordinal)).ToList()
                    is { Count: > 0 } lines ? lines : null),
            "the workers' Processing lines for tenant A");

        Assert.All(processing, line => Assert.Equal(TenantA, line.Attributes.GetValueOrDefault("tenant.id")));
        foreach (var line in otlp.Logs.Where(l => l.Service == "workers"))
        {
            var named = System.Text.RegularExpressions.Regex.Match(line.Message, @"for tenant ([a-z0-9-]+)$");
            if (named.Success)
            {
                Assert.True(line.Attributes.GetValueOrDefault("tenant.id") == named.Groups[1].Value, $"without tenant.id = {named.Groups[1].Value}: {line.Message}");
            }
        }
    }

    private static async Task Tenant_b_sees_none_of_tenant_a_jobs(DistributedApplication app, string adminEmail, string adminPassword, string jobOfA)
    {
        using var webB = app.CreateHttpClient($"web-{TenantB}");
        await SignInAsync(webB, adminEmail, adminPassword);

        var overview = await GetJsonAsync(webB, "/api/admin/queues");
        foreach (var queue in overview["queues"]!.AsArray())
        {
            var counts = queue!["counts"]!;
            Assert.True((long)counts["completed"]! == 0 && (long)counts["active"]! == 0 && (long)counts["failed"]! == 0, $"tenant B's overview shows jobs: {queue.ToJsonString()}");
        }
        foreach (var state in new[] { "completed", "waiting", "failed" })
        {
            var jobs = (await GetJsonAsync(webB, $"/api/admin/queues/notifications/jobs?state={state}"))["items"]!.AsArray();
            Assert.DoesNotContain(jobs, j => (string?)j!["id"] == jobOfA || (string?)j["tenant"] == TenantA);
        }
        using var foreign = await webB.GetAsync(new Uri($"/api/admin/queues/notifications/jobs/{Uri.EscapeDataString(jobOfA)}", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
    }

    private static bool IsUnder(SpanRecord span, SpanRecord ancestor, IReadOnlyList<SpanRecord> trace)
    {
        var byId = trace.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
        for (var current = span; current.ParentSpanId is { } parent;)
        {
            if (parent == ancestor.SpanId)
            {
                return true;
            }
            if (!byId.TryGetValue(parent, out current!))
            {
                return false;
            }
        }
        return false;
    }

    private static async Task<long> ScalarAsync(DistributedApplication app, string database, string sql, long runId, string email)
    {
        var connectionString = new NpgsqlConnectionStringBuilder(await app.GetConnectionStringAsync(database)) { Pooling = false };
        await using var connection = new NpgsqlConnection(connectionString.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("link", $"/runs/{runId}");
        command.Parameters.AddWithValue("email", email);
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }
}
