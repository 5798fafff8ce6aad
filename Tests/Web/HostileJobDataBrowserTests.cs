using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Domain.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Queue;
using Tenancy;
using Tests.Infrastructure;
using Tests.Queue;

namespace Tests.Web;

/// <summary>
/// Job data is data, never markup: jobs whose ids, names, errors, payload, progress and the tenant's hold reason carry
/// HTML and attribute breakouts, put in Valkey through the engine's own client, server and operator APIs, are shown
/// by Admin &gt; Job Queues (overview, lists, job pages, after the live refresh, under the mouse) in Chromium as the
/// very text they are: no injected element or attribute appears, nothing runs.
/// </summary>
public sealed class HostileJobDataBrowserTests(TestServers servers) : IAsyncLifetime
{
    // Each would run script if written into the page as markup, in text or inside a double- or single-quoted attribute.
    private const string RunningId = "\"onmouseover=\"window.__pwned='running-id'\" x=\"<img src=x onerror=window.__pwned='running-id-img'>";
    private const string RunningName = "<script>window.__pwned='running-name'</script><b onmouseover=\"window.__pwned='b'\">import</b>";
    private const string RunningPayload = "</pre><script>window.__pwned='payload'</script><img src=x onerror=\"window.__pwned='payload-img'\">";
    private const string RunningProgress = "\"<img src=x onerror=window.__pwned='progress'>\"";
    private const string FailedId = "x' onmouseover='window.__pwned=\"failed-id\"'><svg onload=window.__pwned='svg'>";
    private const string FailedName = "\"><img src=x onerror=window.__pwned='failed-name'>";
    private const string FailedError = "<img src=x onerror=\"window.__pwned='error'\"> \" onmouseover=\"window.__pwned='error-attr'";
    private const string HoldReason = "<img src=x onerror=\"window.__pwned='hold'\">\" onmouseover=\"window.__pwned='hold-attr'";

    private readonly SemaphoreSlim _finish = new(0);
    private RedisTestDatabase? _valkey;
    private PostgresTestDatabase? _database;
    private WebTenant _web = null!;
    private ServiceProvider? _engine;
    private QueueHost? _worker;

    public async ValueTask InitializeAsync()
    {
        _valkey = await (await servers.RedisAsync()).CreateDatabaseAsync();
        _database = await (await servers.PostgresAsync()).CreateDatabaseAsync("web-hostile");
        _web = new WebTenant(TwoTenantWebs.A, "admin@tenant-a.test", "hostile-signing-key", _database);
        _web.Host = ServiceHost.Start("Web", _web.Environment(_valkey.ConnectionString));
        await _web.Host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(90));

        _engine = Engine(_valkey.ConnectionString, _web);
        _worker = await QueueHost.StartAsync(_valkey, _engine.GetRequiredService<ITenantSettingsStore>(), server => server
            .AddQueue(QueueNames.TestmoImports, 1)
            .AddHandler(RunningName, async (_, job, cancellationToken) =>
            {
                await job.ReportProgressAsync(new RawJson(RunningProgress));
                await _finish.WaitAsync(cancellationToken);
            })
            .AddQueue(QueueNames.Emails, 1)
            .AddHandler(FailedName, (_, _, _) => throw new PermanentJobFailureException(FailedError)));
    }

    /// <summary>The engine's client, admin and operator APIs as a worker deployment and an operator have them.</summary>
    private static ServiceProvider Engine(string valkey, WebTenant tenant)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                [tenant.Id.Value] = new { databaseUrl = tenant.Database.Url, signingKey = tenant.SigningKey },
            }),
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddTenancy();
        services.AddJobQueueClient(o => o.ConnectionString = valkey);
        services.AddJobQueueOperator(o => o.ConnectionString = valkey);
        return services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        _finish.Release(10);
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
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
        _finish.Dispose();
    }

    [Fact]
    public async Task Hostile_job_ids_names_errors_payload_progress_and_hold_reason_show_as_text_on_admin_job_queues_and_nothing_runs()
    {
        var engine = _engine!;
        var client = engine.GetRequiredService<IJobQueueClient>();
        var admin = engine.GetRequiredService<IJobQueueAdmin>();
        using (TenantScope.Begin(_web.Id))
        {
            await client.EnqueueAsync(QueueNames.TestmoImports, RunningName, RunningPayload, new EnqueueOptions { JobId = RunningId });
            await client.EnqueueAsync(QueueNames.Emails, FailedName, "{}", new EnqueueOptions { JobId = FailedId });
            await Wait.UntilAsync(async () => await admin.GetJobAsync(QueueNames.TestmoImports, RunningId) is { State: JobState.Active, Progress: not null }
                && await admin.GetJobAsync(QueueNames.Emails, FailedId) is { State: JobState.Failed }, "one job runs with its progress, the other has failed");
        }
        await engine.GetRequiredService<IJobQueueOperator>().PauseTenantAsync(_web.Id, HoldReason);

        await using var browser = await BrowserWatch.LaunchAsync();
        await using var context = await browser.NewContextAsync(_web.BaseAddress);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.GetByLabel("Email").FillAsync(_web.AdminEmail);
        await page.GetByLabel("Password").FillAsync(TwoTenantWebs.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Projects" })).ToBeVisibleAsync();

        // The overview, as first rendered and after the live part has been replaced from the server a few times.
        await page.GotoAsync("/admin/queues");
        await Assertions.Expect(page.Locator("#hold li")).ToHaveTextAsync(new Regex(": " + Regex.Escape(HoldReason) + "$"));
        var running = page.Locator($"#running tr[data-job]");
        await Assertions.Expect(running).ToHaveCountAsync(1);
        await page.WaitForTimeoutAsync(2500);
        await Assertions.Expect(running).ToHaveAttributeAsync("data-job", RunningId);
        await Assertions.Expect(running.Locator("a")).ToHaveTextAsync($"{RunningName} {RunningId}");
        await Assertions.Expect(page.Locator("#hold li")).ToHaveTextAsync(new Regex(": " + Regex.Escape(HoldReason) + "$"));
        await running.HoverAsync();
        await page.Locator("#hold li").HoverAsync();
        await BrowserWatch.SaveScreenshotAsync(page, "hostile-overview.png");
        await AssertNothingInjectedAsync(page);

        // The running job in its list, then its page through the list's link.
        await page.GotoAsync($"/admin/queues/{QueueNames.TestmoImports}/Active");
        var row = page.Locator("#jobs tbody tr");
        await Assertions.Expect(row).ToHaveAttributeAsync("data-job", RunningId);
        await Assertions.Expect(row.Locator("td").Nth(0)).ToHaveTextAsync(RunningId);
        await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync(RunningName);
        await row.HoverAsync();
        await AssertNothingInjectedAsync(page);
        await row.GetByRole(AriaRole.Link).ClickAsync();
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync($"{RunningName} {RunningId}");
        await Assertions.Expect(page.Locator("#payload")).ToHaveTextAsync(RunningPayload);
        await Assertions.Expect(page.Locator("dl.facts")).ToContainTextAsync(RunningProgress);
        await page.Locator("h1").HoverAsync();
        await BrowserWatch.SaveScreenshotAsync(page, "hostile-running-job.png");
        await AssertNothingInjectedAsync(page);

        // The failed job in its list, its page, and retrying it (the message names it).
        await page.GotoAsync($"/admin/queues/{QueueNames.Emails}/Failed");
        row = page.Locator("#jobs tbody tr");
        await Assertions.Expect(row).ToHaveAttributeAsync("data-job", FailedId);
        await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync(FailedName);
        await Assertions.Expect(row.Locator("td.muted")).ToHaveTextAsync(FailedError);
        await row.HoverAsync();
        await AssertNothingInjectedAsync(page);
        await row.GetByRole(AriaRole.Link, new() { Name = FailedId }).ClickAsync();
        await Assertions.Expect(page.Locator("#failure")).ToHaveTextAsync(FailedError);
        await page.Locator("#failure").HoverAsync();
        await AssertNothingInjectedAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Assertions.Expect(page.Locator("p.flash.ok")).ToHaveTextAsync($"Job {FailedId} retried.");
        await AssertNothingInjectedAsync(page);

        Assert.True(browser.CspViolations.IsEmpty, string.Join("\n", browser.CspViolations));
        Assert.True(browser.PageErrors.IsEmpty, string.Join("\n", browser.PageErrors));
        Assert.True(browser.Dialogs.IsEmpty, string.Join("\n", browser.Dialogs));
    }

    /// <summary>No injected element or event attribute is in the document, no script but the site's own, and nothing ran.</summary>
    private static async Task AssertNothingInjectedAsync(IPage page)
    {
        var found = await page.EvaluateAsync<string[]>("""
            () => [
                ...[...document.querySelectorAll('img, svg, b, iframe, object, embed')].map(e => 'element ' + e.outerHTML),
                ...[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => `attribute ${a.name} on <${e.localName}>`)),
                ...[...document.scripts].filter(s => !s.src || !new URL(s.src).pathname.startsWith('/js/')).map(s => 'script ' + (s.src || s.textContent)),
                ...(window.__pwned === undefined ? [] : ['ran: ' + window.__pwned]),
            ]
            """);
        Assert.True(found.Length == 0, $"{page.Url}:\n{string.Join("\n", found)}");
    }

    /// <summary>A progress value written as the very JSON text given (the engine's serialiser would escape &lt; and &gt;).</summary>
    [JsonConverter(typeof(RawJsonConverter))]
    private sealed record RawJson(string Json);

    private sealed class RawJsonConverter : JsonConverter<RawJson>
    {
        public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Json, skipInputValidation: true);
    }
}
