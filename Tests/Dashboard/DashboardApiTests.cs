using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

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
        var failedTraceId = SampleTelemetry.Export(dashboard.BaseAddress, DashboardHost.ApiKey);
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
        Assert.Equal(2, emails.GetProperty("active").GetDouble());
        Assert.Equal(5, emails.GetProperty("delayed").GetDouble());
        Assert.Equal(1, emails.GetProperty("failedKept").GetDouble());
        Assert.Contains(tenants.EnumerateArray(), t => t.GetProperty("tenant").GetString() == "tenant-b");

        var tenantPage = await GetJsonAsync(browser, "/api/tenants/tenant-a");
        var failure = Assert.Single(tenantPage.GetProperty("failures").EnumerateArray());
        Assert.Equal(failedTraceId, failure.GetProperty("traceId").GetString());
        Assert.Equal(SampleTelemetry.FailureMessage, failure.GetProperty("message").GetString());
        Assert.Empty((await GetJsonAsync(browser, "/api/tenants/tenant-b")).GetProperty("failures").EnumerateArray());

        var trace = await GetJsonAsync(browser, "/api/traces/" + failedTraceId);
        Assert.Equal(2, trace.GetProperty("spans").GetArrayLength());
        Assert.Equal(1, trace.GetProperty("spans")[1].GetProperty("depth").GetInt32());

        var onlyB = await GetJsonAsync(browser, "/api/traces?tenant=tenant-b");
        Assert.All(onlyB.EnumerateArray(), t => Assert.Equal(["tenant-b"], t.GetProperty("tenants").EnumerateArray().Select(x => x.GetString())));
        Assert.Single(onlyB.EnumerateArray());

        var logsOfA = await GetJsonAsync(browser, "/api/logs?tenant=tenant-a");
        Assert.Equal([SampleTelemetry.TenantALog], logsOfA.EnumerateArray().Select(l => l.GetProperty("message").GetString()));
        var byAttribute = await GetJsonAsync(browser, "/api/logs?attr=tenant.id%3Dtenant-b&level=Information");
        Assert.Equal([SampleTelemetry.TenantBLog], byAttribute.EnumerateArray().Select(l => l.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Tenants_declared_by_the_topology_are_listed_before_they_send_telemetry_and_resources_come_from_the_apphost()
    {
        var ct = TestContext.Current.CancellationToken;
        // A stand-in for the AppHost's resource API.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var apphost = builder.Build();
        string? authorization = null;
        apphost.MapGet("/resources", (HttpContext http) =>
        {
            authorization = http.Request.Headers.Authorization;
            return Results.Text(
                """{"resources":[{"name":"web-tenant-c","type":"Project","state":"Healthy","environment":[{"name":"INSTANCE_TENANT_ID","value":"tenant-c","secret":false}]}]}""",
                "application/json");
        });
        await apphost.StartAsync(ct);
        var apphostUrl = apphost.Urls.Single();
        await using var dashboard = await DashboardHost.StartAsync(new Dictionary<string, string?>
        {
            ["Dashboard:ResourceServiceUrl"] = apphostUrl,
            ["Dashboard:ResourceServiceApiKey"] = "resource-key",
        });
        using var browser = Browser(dashboard);
        await LogInAsync(browser);

        var tenants = await GetJsonAsync(browser, "/api/tenants");
        var resources = await GetJsonAsync(browser, "/api/resources");

        Assert.Equal(["tenant-c"], tenants.EnumerateArray().Select(t => t.GetProperty("tenant").GetString()));
        Assert.Equal("web-tenant-c", resources.GetProperty("resources")[0].GetProperty("name").GetString());
        Assert.Equal("Bearer resource-key", authorization);
    }
}
