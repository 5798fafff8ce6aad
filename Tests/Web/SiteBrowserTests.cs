using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Domain.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Npgsql;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// Every page of the site in headless Chromium, signed in as an administrator (and the sign-in, error and
/// not-allowed pages around them): none breaks the Content-Security-Policy, throws, or logs an error, and the import
/// page's upload (a fetch that carries the antiforgery token) still works.
/// </summary>
public sealed class SiteBrowserTests(TestServers servers)
{
    [Fact]
    public async Task Every_page_of_the_site_renders_in_chromium_without_a_csp_violation_or_an_error()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "site-browser");
        var web = own.Web;
        var site = await SiteAsync(own);
        await using var browser = await BrowserWatch.LaunchAsync();
        await using var context = await browser.NewContextAsync(web.BaseAddress);
        var page = await context.NewPageAsync();
        var visited = new List<string>();

        async Task VisitAsync(string path, string shows, int status = 200)
        {
            var response = await page.GotoAsync(path);
            Assert.True(response?.Status == status, $"{path}: {response?.Status}");
            await Assertions.Expect(page.Locator("main")).ToContainTextAsync(shows);
            visited.Add(path);
        }

        // Signed out: the sign-in page, then signing in through it.
        await VisitAsync("/signin", "Sign in");
        await page.GetByLabel("Email").FillAsync(web.AdminEmail);
        await page.GetByLabel("Password").FillAsync(TwoTenantWebs.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Projects" })).ToBeVisibleAsync();

        await VisitAsync("/projects", "Checkout");
        await VisitAsync($"/projects/{site.Project}", "Pay by card");
        await VisitAsync($"/cases/{site.Case}", "QA-1");
        await VisitAsync($"/runs/{site.Run}", "Record results");
        await VisitAsync("/notifications", "Someone recorded results");
        await VisitAsync("/search", "Served by");
        await VisitAsync("/search?q=card", "Pay by card");
        await VisitAsync("/search?q=nothingmatchesthis", "Nothing matches");
        await VisitAsync("/imports", "Testmo imports");
        await VisitAsync("/admin/queues", "forecast-updates");
        // The live part is replaced from the server every second: stay for a few refreshes.
        await page.WaitForTimeoutAsync(2500);
        foreach (var queue in QueueNames.All)
        {
            foreach (var state in Enum.GetValues<JobState>())
            {
                await VisitAsync($"/admin/queues/{queue}/{state}", $"{queue}: {state} jobs");
            }
        }
        await VisitAsync($"/admin/queues/{QueueNames.ForecastUpdates}/jobs/{site.Job}", "Payload");
        await VisitAsync("/admin/users", web.AdminEmail);
        await VisitAsync("/admin/tokens", "New token");
        await VisitAsync("/admin/reindex", "nothing to reindex");

        // Pages that answer a form: a refusal shown next to its field, a token shown once.
        await page.GotoAsync("/projects");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create project" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-valmsg-for='Input.Name']")).ToContainTextAsync("required");
        await page.GotoAsync("/admin/tokens");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("browser");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        await Assertions.Expect(page.Locator("#new-token")).ToContainTextAsync("wbt_");

        // The import page's upload: a fetch with the page's antiforgery token; the list refreshes in place.
        await page.GotoAsync("/imports");
        await page.GetByLabel("Testmo export").SetInputFilesAsync(new FilePayload { Name = "nightly.json", MimeType = "application/json", Buffer = WebEnqueueTests.Export(10_000) });
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload" }).ClickAsync();
        await Assertions.Expect(page.Locator("#upload-status")).ToContainTextAsync("is queued");
        await Assertions.Expect(page.Locator("#imports tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#imports tbody tr")).ToContainTextAsync("nightly.json");
        await BrowserWatch.SaveScreenshotAsync(page, "site-imports.png");

        // Before the error pages, whose documents the console reports as failed loads: no console error so far.
        Assert.True(browser.ConsoleErrors.IsEmpty, string.Join("\n", browser.ConsoleErrors));

        await VisitAsync("/projects/987654321", "Not found", status: 404);
        await BrowserWatch.SaveScreenshotAsync(page, "site-not-found.png");
        await VisitAsync("/no/such/page", "Not found", status: 404);

        // A member on an administrator's page: not allowed, in the layout.
        await using (var member = await browser.NewContextAsync(web.BaseAddress))
        {
            var memberPage = await member.NewPageAsync();
            await memberPage.GotoAsync("/signin");
            await memberPage.GetByLabel("Email").FillAsync(site.MemberEmail);
            await memberPage.GetByLabel("Password").FillAsync("member-password-1");
            await memberPage.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await Assertions.Expect(memberPage.GetByRole(AriaRole.Heading, new() { Name = "Projects" })).ToBeVisibleAsync();
            var forbidden = await memberPage.GotoAsync("/admin/users");
            Assert.Equal(403, forbidden?.Status);
            await Assertions.Expect(memberPage.GetByRole(AriaRole.Heading, new() { Name = "Not allowed" })).ToBeVisibleAsync();
            await BrowserWatch.SaveScreenshotAsync(memberPage, "site-not-allowed.png");
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/signin$"));

        TestContext.Current.SendDiagnosticMessage($"Visited {visited.Count} pages: {string.Join(", ", visited)}");
        Assert.True(browser.CspViolations.IsEmpty, string.Join("\n", browser.CspViolations));
        Assert.True(browser.PageErrors.IsEmpty, string.Join("\n", browser.PageErrors));
        Assert.True(browser.Dialogs.IsEmpty, string.Join("\n", browser.Dialogs));
    }

    [Fact]
    public async Task The_watch_sees_a_csp_violation_when_there_is_one()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "site-browser-watch");
        await using var browser = await BrowserWatch.LaunchAsync();
        await using var context = await browser.NewContextAsync(own.Web.BaseAddress);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/signin");

        // What an injected attribute would be: an inline style and an inline handler. The policy blocks both.
        await page.EvaluateAsync("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">styled</p><img src=\"/favicon.svg\" onload=\"window.ran = 1\">')");

        // Both ways: the page's securitypolicyviolation events and the console's messages.
        await Wait.UntilAsync(() => browser.CspViolations.Any(v => v.StartsWith("style-src-attr", StringComparison.Ordinal))
            && browser.CspViolations.Any(v => v.StartsWith("script-src-attr", StringComparison.Ordinal)), "the page reports both violations");
        Assert.Contains(browser.CspViolations, v => v.StartsWith("console", StringComparison.Ordinal) && v.Contains("inline style", StringComparison.Ordinal));
        Assert.Null(await page.EvaluateAsync<int?>("window.ran"));
    }

    private sealed record Site(long Project, long Case, long Run, string Job, string MemberEmail);

    /// <summary>Something on every page: a project with a case, a linked issue and a run with results, a notification, a member, jobs.</summary>
    private static async Task<Site> SiteAsync(WebOfItsOwn own)
    {
        var web = own.Web;
        using var admin = await web.AdminAsync();
        var project = await admin.CreateProjectAsync("Checkout");
        var testCase = await admin.CreateCaseAsync(project, "Pay by card");
        var run = await admin.CreateRunAsync(project);
        var integration = await admin.CreateIntegrationAsync(project);
        using (var linked = await admin.PostAsJsonAsync(new Uri($"/api/cases/{testCase}/issues", UriKind.Relative), new { integrationId = integration, key = "QA-1" }))
        {
            Assert.True(linked.IsSuccessStatusCode, $"{(int)linked.StatusCode}");
        }
        using (var recorded = await admin.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative),
            new { results = new[] { new { caseId = testCase, status = "Failed", elapsedMs = 1500, comment = "Declined" } } }))
        {
            Assert.True(recorded.IsSuccessStatusCode, $"{(int)recorded.StatusCode}");
        }
        var memberEmail = $"member-{Guid.NewGuid():N}@tenant-a.test";
        using (var member = await admin.PostAsJsonAsync(new Uri("/api/users", UriKind.Relative),
            new { email = memberEmail, name = "Member", password = "member-password-1", isAdmin = false, emailPreference = "None" }))
        {
            Assert.True(member.IsSuccessStatusCode, $"{(int)member.StatusCode}");
        }
        // A notification as the workers write one.
        await using (var connection = new NpgsqlConnection(web.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand(
                "INSERT INTO notifications (user_id, kind, text, link, is_read, created_at) SELECT id, 'results-failed', 'Someone recorded results in run ''Nightly'': 1 failed.', @link, false, now() FROM users WHERE is_admin",
                connection);
            insert.Parameters.AddWithValue("link", $"/runs/{run}");
            await insert.ExecuteNonQueryAsync();
        }

        // The forecast job the results sent, once the outbox has relayed it.
        await using var queue = TwoTenantWebs.QueueReader(own.Valkey.ConnectionString, web);
        var jobs = queue.GetRequiredService<IJobQueueAdmin>();
        string? job = null;
        await Wait.UntilAsync(async () =>
        {
            using (TenantScope.Begin(web.Id))
            {
                job = (await jobs.GetJobsAsync(QueueNames.ForecastUpdates, JobState.Waiting, 0, 1)) is [{ } first, ..] ? first.Id : null;
            }
            return job is not null;
        }, "the forecast job is in the queue");
        return new Site(project, testCase, run, job!, memberEmail);
    }
}
