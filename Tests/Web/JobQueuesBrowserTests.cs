using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Domain.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Npgsql;
using Queue;
using Tests.Infrastructure;
using Tests.Queue;
using JobNames = Domain.Jobs.JobNames;

namespace Tests.Web;

/// <summary>
/// A tenant administrator's afternoon in headless Chromium: sign in, record results, watch Admin &gt; Job Queues,
/// retry a failed job and follow an import's progress. The Workers are stood in for by an in-process job server
/// of the tenant (same Valkey database, same signing key): forecasts fail once, imports advance step by step.
/// </summary>
public sealed class JobQueuesBrowserTests(TestServers servers) : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private const float UiTimeoutMs = 30_000;

    private readonly ConcurrentDictionary<string, int> _forecastAttempts = new();
    private readonly SemaphoreSlim _importStep = new(0);
    private RedisTestDatabase? _valkey;
    private PostgresTestDatabase? _database;
    private WebTenant _web = null!;
    private ServiceProvider? _queue;
    private QueueHost? _worker;

    public async ValueTask InitializeAsync()
    {
        _valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        _database = await (await servers.PostgresAsync()).CreateDatabaseAsync("web-browser");
        _web = new WebTenant(TwoTenantWebs.A, "admin@tenant-a.test", "browser-signing-key", _database);
        _web.Host = ServiceHost.Start("Web", _web.Environment(_valkey.ConnectionString));
        await _web.Host.WaitUntilHealthyAsync(StartTimeout);

        _queue = TwoTenantWebs.QueueReader(_valkey.ConnectionString, _web);
        _worker = await QueueHost.StartAsync(_valkey, _queue.GetRequiredService<global::Tenancy.ITenantSettingsStore>(), server => server
            .AddQueue(QueueNames.ForecastUpdates, 2)
            .AddHandler(JobNames.UpdateCaseForecast, (_, job, _) =>
                // The first attempt of each job fails for good, so there is a failed job to retry; the retry succeeds.
                _forecastAttempts.AddOrUpdate(job.Id, 1, (_, n) => n + 1) == 1
                    ? throw new PermanentJobFailureException("The forecast model is not loaded yet.")
                    : Task.CompletedTask)
            .AddQueue(QueueNames.TestmoImports, 1)
            .AddHandler(JobNames.Import, ImportAsync));
    }

    /// <summary>Reports 10%, 20% ... 100%, each step held until the test has seen it on the page.</summary>
    private async Task ImportAsync(IServiceProvider services, JobContext job, CancellationToken cancellationToken)
    {
        var importId = job.GetPayload<ImportPayload>().ImportId;
        for (var percent = 10; percent <= 100; percent += 10)
        {
            await job.ReportProgressAsync(percent);
            await SetImportAsync(importId, percent, percent == 100 ? "Completed" : "Running");
            await _importStep.WaitAsync(cancellationToken);
        }
    }

    private async Task SetImportAsync(long importId, int percent, string status)
    {
        await using var connection = new NpgsqlConnection(_database!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE imports SET progress = @p, status = @s WHERE id = @id", connection);
        command.Parameters.AddWithValue("p", percent);
        command.Parameters.AddWithValue("s", status);
        command.Parameters.AddWithValue("id", importId);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _importStep.Release(100);
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }
        if (_queue is not null)
        {
            await _queue.DisposeAsync();
        }
        if (_web?.Host is { } host)
        {
            await host.DisposeAsync();
        }
        foreach (var disposable in new IAsyncDisposable?[] { _database, _valkey })
        {
            if (disposable is not null)
            {
                await disposable.DisposeAsync();
            }
        }
        _importStep.Dispose();
    }

    [Fact]
    public async Task An_admin_records_results_retries_the_failed_forecast_and_watches_an_import_progress_on_the_job_queues_page()
    {
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await using var context = await browser.NewContextAsync(new() { BaseURL = _web.BaseAddress.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(UiTimeoutMs);
        Assertions.SetDefaultExpectTimeout(UiTimeoutMs);
        var page = await context.NewPageAsync();

        // Sign in: the page asked for first comes back after signing in.
        await page.GotoAsync("/projects");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/signin"));
        await page.GetByLabel("Email").FillAsync(_web.AdminEmail);
        await page.GetByLabel("Password").FillAsync(TwoTenantWebs.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Projects" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("header .tenant")).ToHaveTextAsync("tenant-a");

        // A project, a case and a run, through the forms.
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Checkout");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create project" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Checkout" })).ToBeVisibleAsync();
        await page.GetByLabel("Title", new() { Exact = true }).FillAsync("Pay by card");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add case" }).ClickAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Nightly");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create run" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { NameRegex = new Regex("Nightly") })).ToBeVisibleAsync();

        // Record results.
        await page.GetByLabel("Status of Pay by card").SelectOptionAsync("Failed");
        await page.GetByLabel("Elapsed seconds of Pay by card").FillAsync("1.5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Record results" }).ClickAsync();
        await Assertions.Expect(page.GetByText("1 result(s) recorded.")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#results tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#results tbody td.status-Failed")).ToHaveTextAsync("Failed");
        await SaveScreenshotAsync(page, "run.png");

        // Admin > Job Queues: the forecast job failed; the counts say so without reloading the page.
        await Nav(page, "Job Queues").ClickAsync();
        var forecasts = page.Locator("tr[data-queue='forecast-updates']");
        await Assertions.Expect(forecasts.Locator("a[data-state='Failed']")).ToHaveTextAsync("1");
        await Assertions.Expect(forecasts.Locator("[data-field='concurrency']")).ToHaveTextAsync("2");

        // Retry it from the failed list; it completes.
        await forecasts.Locator("a[data-state='Failed']").ClickAsync();
        await Assertions.Expect(page.Locator("#jobs tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#jobs")).ToContainTextAsync("The forecast model is not loaded yet.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Assertions.Expect(page.GetByText(new Regex("Job .+ retried\\."))).ToBeVisibleAsync();
        await Nav(page, "Job Queues").ClickAsync();
        await Assertions.Expect(forecasts.Locator("a[data-state='Completed']")).ToHaveTextAsync("1");
        await Assertions.Expect(forecasts.Locator("a[data-state='Failed']")).ToHaveTextAsync("0");

        // Upload a Testmo export from the imports page.
        await Nav(page, "Imports").ClickAsync();
        await page.GetByLabel("Testmo export").SetInputFilesAsync(new FilePayload { Name = "nightly.json", MimeType = "application/json", Buffer = WebEnqueueTests.Export(300_000) });
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload" }).ClickAsync();
        await Assertions.Expect(page.Locator("#upload-status")).ToContainTextAsync("is queued");
        await Assertions.Expect(page.Locator("#imports tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#imports tbody tr .progress")).ToHaveAttributeAsync("aria-valuenow", "10");
        await SaveScreenshotAsync(page, "imports.png");

        // Back on Job Queues, the import's progress bar moves as the worker reports, without a reload.
        await Nav(page, "Job Queues").ClickAsync();
        var bar = page.Locator("#running .progress");
        for (var percent = 10; percent <= 100; percent += 10)
        {
            await Assertions.Expect(bar).ToHaveAttributeAsync("aria-valuenow", percent.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Assertions.Expect(bar).ToContainTextAsync($"{percent}%");
            if (percent == 50)
            {
                await Assertions.Expect(page.Locator("tr[data-queue='testmo-imports'] a[data-state='Active']")).ToHaveTextAsync("1");
                await SaveScreenshotAsync(page, "job-queues.png");
            }
            _importStep.Release();
        }
        await Assertions.Expect(page.Locator("#running")).ToContainTextAsync("Nothing running.");
        await Assertions.Expect(page.Locator("tr[data-queue='testmo-imports'] a[data-state='Completed']")).ToHaveTextAsync("1");
    }

    private static ILocator Nav(IPage page, string name) =>
        page.Locator("header nav").GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

    private static async Task SaveScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        var png = await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        TestContext.Current.AddAttachment(name, png, "image/png");
    }
}
