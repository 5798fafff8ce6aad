using System.Text.RegularExpressions;
using Hosting;
using Microsoft.Playwright;
using Tests.Hosting;

namespace Tests.Dashboard;

/// <summary>
/// An operator's round in headless Chromium, on the AppHost's own topology (two tenants) with the Dashboard it
/// starts: log in with the printed token, see the resources and restart one, open a tenant, follow a failure to its trace, filter
/// logs by tenant. The failed job's telemetry is exported by the test with the OpenTelemetry SDK, with the
/// topology's generated OTLP key, the way a worker exports it.
/// </summary>
public sealed class DashboardBrowserTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private const float UiTimeoutMs = 30_000;

    /// <summary>Where the tenant page's screenshot is kept (also attached to the test result).</summary>
    public static string ScreenshotPath => Path.Combine(AppContext.BaseDirectory, "artifacts", "dashboard-tenant-page.png");

    [Fact]
    public async Task An_operator_logs_in_sees_and_restarts_resources_opens_a_tenant_follows_a_failure_to_its_trace_and_filters_logs_by_tenant()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"]);
        await using var app = builder.Build();
        await app.StartAsync(cancellationToken);
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(StartTimeout);
            await app.WaitForAllHealthyAsync(timeout.Token);
        }

        var loginUrl = app.DashboardLoginUrl!;
        Assert.Matches(new Regex(@"^http://127\.0\.0\.1:\d+/login\?t=[A-Za-z0-9]+$"), loginUrl);
        await WaitUntilAsync(() => scope.Lines.Any(l => l.Contains("Dashboard: " + loginUrl, StringComparison.Ordinal)));
        var dashboard = new Uri(loginUrl[..loginUrl.IndexOf("/login", StringComparison.Ordinal)]);
        var apiKey = app.Resources.OfType<ParameterResource>().Single(p => p.Name == "dashboard-otlp-api-key").Render(ValueTarget.Run);
        var failedTrace = SampleTelemetry.Export(dashboard, apiKey, service: "workers-sample");

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await using var context = await browser.NewContextAsync(new() { BaseURL = dashboard.ToString(), ViewportSize = new() { Width = 1400, Height = 1000 } });
        context.SetDefaultTimeout(UiTimeoutMs);
        Assertions.SetDefaultExpectTimeout(UiTimeoutMs);
        var page = await context.NewPageAsync();

        // Without the token: the login page.
        await page.GotoAsync("/tenants");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/login"));

        // With it: the resources of the running topology.
        await page.GotoAsync(loginUrl);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Resources" })).ToBeVisibleAsync();
        foreach (var resource in new[] { "dashboard", "valkey", "postgres", "web-tenant-a", "web-tenant-b", "workers" })
        {
            await Assertions.Expect(page.Locator($"tr[data-resource='{resource}'] td.state")).ToHaveTextAsync("Healthy");
        }
        await Assertions.Expect(page.Locator("tr[data-resource='dashboard'] td.secret").First).ToHaveTextAsync("••••••••");
        await Assertions.Expect(page.Locator("tr[data-resource='web-tenant-a'] button", new() { HasText = "restart" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("tr[data-resource='valkey'] button", new() { HasText = "restart" })).ToHaveCountAsync(0);
        // Restart one tenant's web from the page: it comes back healthy, in a new process.
        var webB = page.Locator("tr[data-resource='web-tenant-b']");
        var pidBefore = Assert.Single(app.GetResourceStates().Single(r => r.Name == "web-tenant-b").ProcessIds);
        await webB.Locator("button", new() { HasText = "restart" }).ClickAsync();
        await WaitUntilAsync(() => app.GetResourceStates().Single(r => r.Name == "web-tenant-b").ProcessIds is [var pid] && pid != pidBefore);
        await app.WaitForResourceHealthyAsync("web-tenant-b", cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        await Assertions.Expect(webB.Locator("td.state")).ToHaveTextAsync("Healthy");

        await page.Locator("tr[data-resource='workers'] button", new() { HasText = "Console" }).ClickAsync();
        await Assertions.Expect(page.Locator("#console-lines")).ToContainTextAsync("Loaded 2 tenant configurations");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Path.GetDirectoryName(ScreenshotPath)!, "dashboard-resources-page.png"), FullPage = true });

        // Tenants: tenant-a's emails queue had 3 completed and 1 failed job.
        await page.GetByRole(AriaRole.Link, new() { Name = "Tenants", Exact = true }).ClickAsync();
        var tenantA = page.Locator("section.tenant[data-tenant='tenant-a']");
        await Assertions.Expect(tenantA.Locator("tr[data-queue='emails']")).ToContainTextAsync("25.0 %");
        await Assertions.Expect(page.Locator("section.tenant[data-tenant='tenant-b']")).ToBeVisibleAsync();

        // One tenant: its recent failure, kept as a screenshot.
        await tenantA.GetByRole(AriaRole.Link, new() { Name = "tenant-a", Exact = true }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/tenants/tenant-a$"));
        var failure = page.Locator("#failures tr.failure").Filter(new() { HasText = SampleTelemetry.FailureMessage });
        await Assertions.Expect(failure).ToHaveCountAsync(1);
        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        var screenshot = await page.ScreenshotAsync(new() { Path = ScreenshotPath, FullPage = true });
        TestContext.Current.AddAttachment("dashboard-tenant-page.png", screenshot, "image/png");

        // The failure leads to its trace: the web request and the failed job, in one waterfall.
        await failure.GetByRole(AriaRole.Link, new() { Name = "trace" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/traces/" + failedTrace));
        await Assertions.Expect(page.Locator(".span-row")).ToHaveCountAsync(2);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Path.GetDirectoryName(ScreenshotPath)!, "dashboard-trace-page.png"), FullPage = true });
        await Assertions.Expect(page.Locator(".span-row.error")).ToContainTextAsync("process emails");
        await Assertions.Expect(page.Locator("#span-details")).ToContainTextAsync(SampleTelemetry.FailureMessage);

        // Logs filtered by tenant: tenant-a's line, not tenant-b's.
        await page.GetByRole(AriaRole.Link, new() { Name = "Logs", Exact = true }).ClickAsync();
        await page.Locator("input[name='tenant']").FillAsync("tenant-a");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("tenant=tenant-a"));
        await Assertions.Expect(page.Locator("td.message", new() { HasText = SampleTelemetry.TenantALog })).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("td.message", new() { HasText = SampleTelemetry.TenantBLog })).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#logs tbody tr").First).ToBeVisibleAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 300 && !condition(); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.True(condition());
    }
}
