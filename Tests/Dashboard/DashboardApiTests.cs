using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Tests.Dashboard;

/// <summary>The login and the JSON the pages poll, fed by the SDK the way the Queue's telemetry is exported.</summary>
public sealed class DashboardApiTests
{
    private static HttpClient Browser(DashboardHost dashboard) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = dashboard.BaseAddress };

    private static async Task LogInAsync(HttpClient browser)
    {
        var response = await browser.GetAsync(new Uri("/login?t=" + DashboardHost.LoginToken, UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient browser, string url)
    {
        var response = await browser.GetAsync(new Uri(url, UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
    }

    [Fact]
    public async Task Without_the_login_token_pages_redirect_to_login_and_the_api_answers_401()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        using var browser = Browser(dashboard);
        var ct = TestContext.Current.CancellationToken;

        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync(new Uri("/tenants", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/stats", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/login?t=not-the-token", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/stats", UriKind.Relative), ct)).StatusCode);

        await LogInAsync(browser);

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/api/stats", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/tenants", UriKind.Relative), ct)).StatusCode);
    }

    [Fact]
    public async Task In_unsecured_mode_no_login_is_needed()
    {
        await using var dashboard = await DashboardHost.StartAsync(new Dictionary<string, string?> { ["Dashboard:Unsecured"] = "true" });
        using var browser = Browser(dashboard);

        var response = await browser.GetAsync(new Uri("/api/stats", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task The_tenants_api_gives_per_queue_failure_rate_and_wait_time_and_the_tenant_failures_link_their_traces()
    {
        await using var dashboard = await DashboardHost.StartAsync();
        var (failedTraceId, _) = ExportQueueTelemetry(dashboard);
        using var browser = Browser(dashboard);
        await LogInAsync(browser);

        var tenants = await GetJsonAsync(browser, "/api/tenants?minutes=5");
        var tenantA = tenants.EnumerateArray().Single(t => t.GetProperty("tenant").GetString() == "tenant-a");
        var emails = tenantA.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == "emails");
        Assert.Equal(3, emails.GetProperty("completed").GetDouble());
        Assert.Equal(1, emails.GetProperty("failed").GetDouble());
        Assert.Equal(0.25, emails.GetProperty("failureRate").GetDouble());
        Assert.Equal(1.0, emails.GetProperty("meanWaitSeconds").GetDouble(), 6);
        Assert.Equal(4, emails.GetProperty("waiting").GetDouble());
        Assert.Contains(tenants.EnumerateArray(), t => t.GetProperty("tenant").GetString() == "tenant-b");

        var tenantPage = await GetJsonAsync(browser, "/api/tenants/tenant-a");
        var failure = Assert.Single(tenantPage.GetProperty("failures").EnumerateArray());
        Assert.Equal(failedTraceId, failure.GetProperty("traceId").GetString());
        Assert.Equal("SMTP refused", failure.GetProperty("message").GetString());
        Assert.Empty((await GetJsonAsync(browser, "/api/tenants/tenant-b")).GetProperty("failures").EnumerateArray());

        var trace = await GetJsonAsync(browser, "/api/traces/" + failedTraceId);
        Assert.Equal(2, trace.GetProperty("spans").GetArrayLength());
        Assert.Equal(1, trace.GetProperty("spans")[1].GetProperty("depth").GetInt32());

        var onlyB = await GetJsonAsync(browser, "/api/traces?tenant=tenant-b");
        Assert.All(onlyB.EnumerateArray(), t => Assert.Equal(["tenant-b"], t.GetProperty("tenants").EnumerateArray().Select(x => x.GetString())));
        Assert.Single(onlyB.EnumerateArray());
    }

    /// <summary>What a worker exports: Queue metrics for two tenants, and one failed job's trace for tenant-a.</summary>
    private static (string FailedTraceId, string OkTraceId) ExportQueueTelemetry(DashboardHost dashboard)
    {
        using var meter = new Meter("dashboard-test-" + Guid.NewGuid());
        using var source = new ActivitySource("dashboard-test-" + Guid.NewGuid());
        var completed = meter.CreateCounter<long>("queue.jobs.completed");
        var failed = meter.CreateCounter<long>("queue.jobs.failed");
        var waitTime = meter.CreateHistogram<double>("queue.job.wait_time", "s");
        meter.CreateObservableGauge("queue.jobs.waiting", () => new Measurement<long>(4, new("messaging.destination.name", "emails"), new("tenant.id", "tenant-a")));
        KeyValuePair<string, object?>[] Tags(string tenant) => [new("messaging.destination.name", "emails"), new("tenant.id", tenant)];
        void Configure(OtlpExporterOptions o, string signal)
        {
            o.Endpoint = dashboard.Url("/v1/" + signal);
            o.Protocol = OtlpExportProtocol.HttpProtobuf;
            o.Headers = "x-otlp-api-key=" + DashboardHost.ApiKey;
        }
        string failedTrace, okTrace;
        using (var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("workers"))
            .AddMeter(meter.Name).AddOtlpExporter((o, _) => Configure(o, "metrics")).Build())
        using (var tracing = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("workers"))
            .AddSource(source.Name).AddOtlpExporter(o => Configure(o, "traces")).Build())
        {
            completed.Add(3, Tags("tenant-a"));
            failed.Add(1, Tags("tenant-a"));
            completed.Add(2, Tags("tenant-b"));
            foreach (var wait in new[] { 0.5, 1.5, 0.5, 1.5 })
            {
                waitTime.Record(wait, Tags("tenant-a"));
            }
            using (var send = source.StartActivity("POST /api/runs", ActivityKind.Server)!)
            {
                send.SetTag("tenant.id", "tenant-a");
                failedTrace = send.TraceId.ToHexString();
                using var process = source.StartActivity("process emails", ActivityKind.Consumer)!;
                process.SetTag("tenant.id", "tenant-a");
                process.SetTag("messaging.destination.name", "emails");
                process.SetTag("job.name", "send-email");
                process.SetStatus(ActivityStatusCode.Error, "SMTP refused");
            }
            using (var other = source.StartActivity("process emails", ActivityKind.Consumer)!)
            {
                other.SetTag("tenant.id", "tenant-b");
                okTrace = other.TraceId.ToHexString();
            }
            Assert.True(metrics.ForceFlush(10_000));
            Assert.True(tracing.ForceFlush(10_000));
        }
        return (failedTrace, okTrace);
    }
}
