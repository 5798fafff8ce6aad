using System.Net;
using Domain.Jobs;
using Domain.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Queue;
using Tests.Infrastructure;
using Workers.Infrastructure;
using JobNames = Domain.Jobs.JobNames;
using TestResult = Domain.Model.TestResult;

namespace Tests.Workers;

public sealed class WorkerBehaviourTests(TestServers servers)
{
    [Fact]
    public async Task Create_notification_writes_in_app_notifications_and_mails_only_those_who_want_it_at_once()
    {
        var smtp = await servers.SmtpAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        var immediate = await tenant.AddUserAsync(SmtpServer.NewRecipient("now"), EmailPreference.Immediate);
        var digest = await tenant.AddUserAsync(SmtpServer.NewRecipient("digest"), EmailPreference.DailyDigest);
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant], Smtp(smtp));

        var id = await workers.EnqueueAsync(tenant, QueueNames.Notifications, JobNames.CreateNotification,
            new CreateNotificationPayload([immediate.Id, digest.Id], "results-failed", "2 results failed", "/runs/7"));
        await workers.WaitForJobAsync(tenant, QueueNames.Notifications, id, JobState.Completed);

        var mail = Assert.Single(await smtp.WaitForMessagesAsync(immediate.Email));
        Assert.Equal("2 results failed", mail.Subject);
        Assert.Contains("https://tenant-a.example.test/runs/7", mail.TextBody, StringComparison.Ordinal);
        await using var db = tenant.Db();
        Assert.Equal(2, await db.Notifications.CountAsync());
        await Wait.UntilAsync(async () => await db.Notifications.AnyAsync(n => n.UserId == immediate.Id && n.EmailedAt != null), "The immediate notification should be marked emailed.");
        Assert.Empty(smtp.MessagesTo(digest.Email));
    }

    [Fact]
    public async Task Daily_digest_sends_each_digest_user_one_email_with_the_unread_notifications_of_the_last_day()
    {
        var smtp = await servers.SmtpAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        var user = await tenant.AddUserAsync(SmtpServer.NewRecipient("digest"), EmailPreference.DailyDigest);
        await using (var db = tenant.Db())
        {
            db.Notifications.AddRange(
                new Notification { UserId = user.Id, Kind = "k", Text = "fresh one", Link = "/runs/1", CreatedAt = DateTimeOffset.UtcNow.AddHours(-2) },
                new Notification { UserId = user.Id, Kind = "k", Text = "fresh two", CreatedAt = DateTimeOffset.UtcNow.AddHours(-1) },
                new Notification { UserId = user.Id, Kind = "k", Text = "already read", IsRead = true, CreatedAt = DateTimeOffset.UtcNow },
                new Notification { UserId = user.Id, Kind = "k", Text = "too old", CreatedAt = DateTimeOffset.UtcNow.AddDays(-3) });
            await db.SaveChangesAsync();
        }
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant], Smtp(smtp));

        var id = await workers.EnqueueAsync(tenant, QueueNames.Notifications, JobNames.SendDailyDigest, new SendDailyDigestPayload());
        await workers.WaitForJobAsync(tenant, QueueNames.Notifications, id, JobState.Completed);

        var mail = Assert.Single(await smtp.WaitForMessagesAsync(user.Email));
        Assert.Contains("fresh one (https://tenant-a.example.test/runs/1)", mail.TextBody, StringComparison.Ordinal);
        Assert.Contains("fresh two", mail.TextBody, StringComparison.Ordinal);
        Assert.DoesNotContain("already read", mail.TextBody, StringComparison.Ordinal);
        Assert.DoesNotContain("too old", mail.TextBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_permanent_smtp_rejection_fails_the_email_at_once_with_the_servers_reply()
    {
        var smtp = await servers.SmtpAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant], Smtp(smtp));

        var id = await workers.EnqueueAsync(tenant, QueueNames.Emails, JobNames.SendEmail, new SendEmailPayload(SmtpServer.NewRecipient("reject"), "s", "b"));
        var failed = await workers.WaitForJobAsync(tenant, QueueNames.Emails, id, JobState.Failed);

        Assert.Equal(1, failed.Attempts);
        Assert.Contains("550", failed.Error, StringComparison.Ordinal);
        Assert.Contains("Mailbox unavailable", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_email_whose_notifications_an_earlier_attempt_marked_emailed_is_not_sent_again()
    {
        // Found by bench/valkey-outage.sh (1,001 mails for 1,000 notifications): the mail went out and its notification
        // was marked, then Valkey died before the job completed, and the job ran again.
        var smtp = await servers.SmtpAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        var user = await tenant.AddUserAsync(SmtpServer.NewRecipient("once"), EmailPreference.Immediate);
        var sent = new Notification { UserId = user.Id, Kind = "k", Text = "sent", CreatedAt = DateTimeOffset.UtcNow, EmailedAt = DateTimeOffset.UtcNow };
        var fresh = new Notification { UserId = user.Id, Kind = "k", Text = "fresh", CreatedAt = DateTimeOffset.UtcNow };
        await using (var db = tenant.Db())
        {
            db.Notifications.AddRange(sent, fresh);
            await db.SaveChangesAsync();
        }
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant], Smtp(smtp));

        var again = await workers.EnqueueAsync(tenant, QueueNames.Emails, JobNames.SendEmail, new SendEmailPayload(user.Email, "again", "b", null, [sent.Id]));
        await workers.WaitForJobAsync(tenant, QueueNames.Emails, again, JobState.Completed);
        var mixed = await workers.EnqueueAsync(tenant, QueueNames.Emails, JobNames.SendEmail, new SendEmailPayload(user.Email, "mixed", "b", null, [sent.Id, fresh.Id]));
        await workers.WaitForJobAsync(tenant, QueueNames.Emails, mixed, JobState.Completed);

        var mail = Assert.Single(await smtp.WaitForMessagesAsync(user.Email));
        Assert.Equal("mixed", mail.Subject);
    }

    [Fact]
    public async Task A_transient_smtp_failure_is_retried_rather_than_failed()
    {
        var smtp = await servers.SmtpAsync();
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant], Smtp(smtp));

        var id = await workers.EnqueueAsync(tenant, QueueNames.Emails, JobNames.SendEmail, new SendEmailPayload(SmtpServer.NewRecipient("tempfail"), "s", "b"));
        var delayed = await workers.WaitForJobAsync(tenant, QueueNames.Emails, id, JobState.Delayed);

        Assert.Equal(1, delayed.Attempts);
        Assert.Contains("451", delayed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_forecast_is_the_median_of_the_last_ten_timed_results_and_all_cases_update_in_one_job()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        long first, second, untimed;
        await using (var db = tenant.Db())
        {
            var project = new Project { Name = "p", CreatedAt = DateTimeOffset.UtcNow };
            var run = new TestRun { Project = project, Name = "r", CreatedAt = DateTimeOffset.UtcNow };
            var a = new TestCase { Project = project, Title = "a", CreatedAt = DateTimeOffset.UtcNow };
            var b = new TestCase { Project = project, Title = "b", CreatedAt = DateTimeOffset.UtcNow };
            var c = new TestCase { Project = project, Title = "c", CreatedAt = DateTimeOffset.UtcNow };
            db.AddRange(project, run, a, b, c);
            var start = DateTimeOffset.UtcNow.AddDays(-30);
            // Case a: 12 results; the two oldest (huge) fall outside the last ten, whose median is 5500.
            long[] elapsed = [999_000, 999_000, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000];
            for (var i = 0; i < elapsed.Length; i++)
            {
                db.TestResults.Add(new TestResult { Run = run, Case = a, Status = TestResultStatus.Passed, ElapsedMs = elapsed[i], ExecutedAt = start.AddDays(i) });
            }
            db.TestResults.Add(new TestResult { Run = run, Case = b, Status = TestResultStatus.Failed, ElapsedMs = 300, ExecutedAt = start });
            db.TestResults.Add(new TestResult { Run = run, Case = c, Status = TestResultStatus.Skipped, ElapsedMs = null, ExecutedAt = start });
            await db.SaveChangesAsync();
            (first, second, untimed) = (a.Id, b.Id, c.Id);
        }
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant]);

        var one = await workers.EnqueueAsync(tenant, QueueNames.ForecastUpdates, JobNames.UpdateCaseForecast, new UpdateCaseForecastPayload(first));
        await workers.WaitForJobAsync(tenant, QueueNames.ForecastUpdates, one, JobState.Completed);
        await using (var db = tenant.Db())
        {
            Assert.Equal(5500, (await db.TestCases.SingleAsync(c => c.Id == first)).ForecastDurationMs);
            Assert.Null((await db.TestCases.SingleAsync(c => c.Id == second)).ForecastDurationMs);
        }

        var all = await workers.EnqueueAsync(tenant, QueueNames.ForecastUpdates, JobNames.UpdateAllCasesForecast, new UpdateAllCasesForecastPayload());
        await workers.WaitForJobAsync(tenant, QueueNames.ForecastUpdates, all, JobState.Completed);
        await using (var db = tenant.Db())
        {
            Assert.Equal(300, (await db.TestCases.SingleAsync(c => c.Id == second)).ForecastDurationMs);
            Assert.Null((await db.TestCases.SingleAsync(c => c.Id == untimed)).ForecastDurationMs);
        }
    }

    [Fact]
    public async Task Issue_sync_reads_the_tracker_and_a_429_delays_the_job_instead_of_failing_it()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        await using var jira = await FakeJira.StartAsync();
        long issueId, limitedId;
        await using (var db = tenant.Db())
        {
            var project = new Project { Name = "p", CreatedAt = DateTimeOffset.UtcNow };
            var integration = new TrackerIntegration { Project = project, BaseUrl = jira.BaseUrl, ProjectKey = "PRJ", Username = "bot", ApiToken = "secret" };
            var issue = new ExternalIssue { Integration = integration, Key = "PRJ-1" };
            var limited = new ExternalIssue { Integration = integration, Key = "PRJ-429" };
            db.AddRange(project, integration, issue, limited);
            await db.SaveChangesAsync();
            (issueId, limitedId) = (issue.Id, limited.Id);
        }
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant]);

        var ok = await workers.EnqueueAsync(tenant, QueueNames.IssueSync, JobNames.SyncIssue, new SyncIssuePayload(issueId));
        var limitedJob = await workers.EnqueueAsync(tenant, QueueNames.IssueSync, JobNames.SyncIssue, new SyncIssuePayload(limitedId));
        await workers.WaitForJobAsync(tenant, QueueNames.IssueSync, ok, JobState.Completed);
        var delayed = await workers.WaitForJobAsync(tenant, QueueNames.IssueSync, limitedJob, JobState.Delayed);

        await using var check = tenant.Db();
        var synced = await check.ExternalIssues.SingleAsync(i => i.Id == issueId);
        Assert.Equal("Login fails on Tuesdays", synced.Title);
        Assert.Equal("In Progress", synced.Status);
        Assert.Equal($"{jira.BaseUrl}/browse/PRJ-1", synced.Url);
        Assert.Equal("Basic " + Convert.ToBase64String("bot:secret"u8.ToArray()), jira.LastAuthorization);
        Assert.NotNull(delayed.DueAt);
        Assert.True(delayed.DueAt > DateTimeOffset.UtcNow.AddSeconds(60), "Retry-After: 120 should put the job about two minutes out.");
    }

    [Fact]
    public async Task Project_sync_pages_through_the_trackers_search_and_updates_only_linked_issues()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        await using var tenant = await TestTenant.CreateAsync(await servers.PostgresAsync(), "tenant-a");
        await using var jira = await FakeJira.StartAsync();
        long projectId;
        await using (var db = tenant.Db())
        {
            var project = new Project { Name = "p", CreatedAt = DateTimeOffset.UtcNow };
            var integration = new TrackerIntegration { Project = project, BaseUrl = jira.BaseUrl, ProjectKey = "PRJ" };
            db.AddRange(project, integration,
                new ExternalIssue { Integration = integration, Key = "PRJ-2" },
                new ExternalIssue { Integration = integration, Key = "PRJ-150" });
            await db.SaveChangesAsync();
            projectId = project.Id;
        }
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant]);

        var id = await workers.EnqueueAsync(tenant, QueueNames.IssueSync, JobNames.SyncProjectIssues, new SyncProjectIssuesPayload(projectId));
        await workers.WaitForJobAsync(tenant, QueueNames.IssueSync, id, JobState.Completed);

        await using var check = tenant.Db();
        var issues = await check.ExternalIssues.OrderBy(i => i.Key).ToListAsync();
        Assert.Equal(2, issues.Count);
        Assert.Equal("Issue 150", issues.Single(i => i.Key == "PRJ-150").Title);
        Assert.Equal("Open", issues.Single(i => i.Key == "PRJ-2").Status);
        Assert.True(jira.SearchPages >= 2, "150 tracker issues at 100 a page take two search requests.");
        Assert.NotNull((await check.TrackerIntegrations.SingleAsync()).LastSyncedAt);
    }

    [Fact]
    public async Task A_database_marked_for_another_tenant_fails_the_job_without_writing()
    {
        await using var valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var postgres = await servers.PostgresAsync();
        // tenant-a's settings point at a database whose marker names tenant-z.
        await using var tenant = await TestTenant.CreateAsync(postgres, "tenant-a", markerTenant: "tenant-z");
        var user = await tenant.AddUserAsync("someone@example.test", EmailPreference.None);
        await using var workers = await WorkersHost.StartAsync(valkey, [tenant]);

        var id = await workers.EnqueueAsync(tenant, QueueNames.Notifications, JobNames.CreateNotification,
            new CreateNotificationPayload([user.Id], "k", "should not be written", null), new EnqueueOptions { MaxAttempts = 1 });
        var failed = await workers.WaitForJobAsync(tenant, QueueNames.Notifications, id, JobState.Failed);

        Assert.Contains("belongs to tenant 'tenant-z'", failed.Error, StringComparison.Ordinal);
        await using var db = tenant.Db();
        Assert.Equal(0, await db.Notifications.CountAsync());
    }

    private static Dictionary<string, string?> Smtp(SmtpServer smtp) => new()
    {
        ["SMTP_HOST"] = smtp.Host,
        ["SMTP_PORT"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["SMTP_SECURITY"] = "None",
    };
}

/// <summary>A Jira-shaped tracker for the tests: issue by key, 404 for unknown keys, 429 with Retry-After for PRJ-429.</summary>
internal sealed class FakeJira : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeJira(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public string? LastAuthorization { get; private set; }

    public int SearchPages { get; private set; }

    public static async Task<FakeJira> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        FakeJira? self = null;
        app.MapGet("/rest/api/2/issue/{key}", (string key, HttpContext context) =>
        {
            self!.LastAuthorization = context.Request.Headers.Authorization;
            return key switch
            {
                "PRJ-1" => Results.Json(new { key, fields = new { summary = "Login fails on Tuesdays", status = new { name = "In Progress" } } }),
                "PRJ-429" => Results.Text("slow down", statusCode: 429).WithRetryAfter(120),
                _ => Results.NotFound(),
            };
        });
        // Search by project: 150 issues PRJ-1..PRJ-150, paged by startAt/maxResults as Jira does.
        app.MapGet("/rest/api/2/search", (int startAt, int maxResults, string jql) =>
        {
            self!.SearchPages++;
            if (!jql.Contains("project=\"PRJ\"", StringComparison.Ordinal))
            {
                return Results.BadRequest();
            }
            var issues = Enumerable.Range(startAt + 1, Math.Max(0, Math.Min(maxResults, 150 - startAt)))
                .Select(n => new { key = $"PRJ-{n}", fields = new { summary = $"Issue {n}", status = new { name = "Open" } } });
            return Results.Json(new { startAt, maxResults, total = 150, issues });
        });
        await app.StartAsync();
        var address = app.Urls.First();
        self = new FakeJira(app, address.TrimEnd('/'));
        return self;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

internal static class RetryAfterResult
{
    public static IResult WithRetryAfter(this IResult inner, int seconds) => new Wrapped(inner, seconds);

    private sealed class Wrapped(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
