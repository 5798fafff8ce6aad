using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Hosting.Tenants;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tests.AppHost;
using static Tests.EndToEnd.TopologyClient;

namespace Tests.EndToEnd;

/// <summary>
/// An operator in the real Aspire dashboard (headless system Chromium) over the AppHost's real topology: signs in with
/// the token, sees a row per tenant with its state, pauses tenant-b from its row and sees its new job wait while
/// tenant-a's runs, resumes it and sees it run, and finds tenant-a's trace from web-tenant-a through the workers by the
/// dashboard's tenant.id filter. Screenshots are kept as test artifacts.
/// </summary>
public sealed class DashboardBrowserTests
{
    private const string TenantA = "tenant-a";
    private const string TenantB = "tenant-b";
    private const float UiTimeoutMs = 60_000;
    private static readonly TimeSpan PauseReachesEveryWorker = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task An_operator_pauses_and_resumes_a_tenant_from_its_row_and_follows_a_tenants_traces()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderWithDashboardAsync([TenantA, TenantB]);
        await using var app = await builder.BuildAsync(cancellationToken);
        await StartAsync(app, [$"web-{TenantA}", $"web-{TenantB}", "workers"]);
        var login = await app.GetDashboardUrlAsync(cancellationToken) ?? throw new InvalidOperationException("The dashboard has no address.");

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await using var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1600, Height = 1000 } });
        context.SetDefaultTimeout(UiTimeoutMs);
        Assertions.SetDefaultExpectTimeout(UiTimeoutMs);
        var page = await context.NewPageAsync();

        // Sign in with the token; a row per tenant, named by its id, with its state.
        await page.GotoAsync(login.ToString());
        ILocator Row(string name) => page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByText(name, new() { Exact = true }) });
        await Assertions.Expect(Row(TenantA)).ToContainTextAsync(TenantStates.Healthy);
        await Assertions.Expect(Row(TenantB)).ToContainTextAsync(TenantStates.Healthy);
        await SaveScreenshotAsync(page, "dashboard-tenant-rows.png");

        // Pause tenant-b from its row.
        await Row(TenantB).GetByTitle("Stop every worker from taking this tenant's jobs; they wait, nothing fails.").ClickAsync();
        await Assertions.Expect(Row(TenantB)).ToContainTextAsync(TenantStates.Paused);
        // A pause reaches every worker within seconds: at once over pub/sub, at the latest at its next safety poll of
        // the holds (5 s). Wait that bound out, so the job below is enqueued after every worker knows.
        await Task.Delay(PauseReachesEveryWorker, cancellationToken);

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
        await SaveScreenshotAsync(page, "dashboard-tenant-b-paused.png");

        // Resume it from its row: its job runs.
        await Row(TenantB).GetByTitle("Let the workers take this tenant's jobs again.").ClickAsync();
        await EventuallyAsync(async () => await ForecastCountsAsync(webB) is { } b && (long)b["completed"]! >= 1 ? b : null, "tenant B's forecast job to complete after the resume");
        await Assertions.Expect(Row(TenantB)).ToContainTextAsync(TenantStates.Healthy);

        // Tenant-a's Traces link: the dashboard's traces filtered by tenant.id, with a trace from web-tenant-a through the workers.
        Assert.True(app.ResourceNotifications.TryGetCurrentState(TenantA, out var row));
        var traces = row.Snapshot.Urls.Single(u => u.Name == "Traces").Url;
        Assert.Equal(login.GetLeftPart(UriPartial.Authority), new Uri(traces).GetLeftPart(UriPartial.Authority));
        Assert.EndsWith($"/traces?filters={Uri.EscapeDataString($"tenant.id:equals:{TenantA}")}", traces, StringComparison.Ordinal);
        await page.GotoAsync(traces);
        var trace = page.GetByRole(AriaRole.Row).Filter(new() { HasTextRegex = new Regex("POST \\S*runs\\S*results") });
        await Assertions.Expect(trace.First).ToContainTextAsync("workers");
        await Assertions.Expect(trace.First).ToContainTextAsync($"web-{TenantA}");
        await SaveScreenshotAsync(page, "dashboard-tenant-a-traces.png");
    }

    private static async Task SaveScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        var png = await page.ScreenshotAsync(new() { Path = Path.Combine(directory, name), FullPage = true });
        TestContext.Current.AddAttachment(name, png, "image/png");
    }
}
