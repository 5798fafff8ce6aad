using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tests.Otlp;

namespace Tests.EndToEnd;

/// <summary>What the whole-topology tests do with a tenant's web app: sign in, call its API, wait for an effect.</summary>
internal static class TopologyClient
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan EffectTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Every project exports its telemetry to <paramref name="otlp"/> (OTLP/HTTP, short batch delays) instead of a dashboard.</summary>
    internal static void ExportTelemetryTo(IDistributedApplicationTestingBuilder builder, OtlpReceiver otlp)
    {
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.Endpoint.ToString().TrimEnd('/'))
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .WithEnvironment("OTEL_BSP_SCHEDULE_DELAY", "500")
                .WithEnvironment("OTEL_BLRP_SCHEDULE_DELAY", "500");
        }
    }

    /// <summary>
    /// Starts the application and waits, within <see cref="StartTimeout"/> in all, until every one of
    /// <paramref name="healthy"/> is healthy and every resource of <paramref name="states"/> shows its state.
    /// </summary>
    internal static async Task StartAsync(DistributedApplication app, string[] healthy, params (string Resource, string State)[] states)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(StartTimeout);
        await app.StartAsync(timeout.Token);
        foreach (var resource in healthy)
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);
        }
        foreach (var (resource, state) in states)
        {
            await app.ResourceNotifications.WaitForResourceAsync(resource, state, timeout.Token);
        }
    }

    /// <summary>A parameter's value as the running topology resolved it (generated secrets included).</summary>
    internal static async Task<string> ParameterAsync(DistributedApplication app, string name) =>
        (await app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ParameterResource>()
            .Single(p => p.Name == name).GetValueAsync(TestContext.Current.CancellationToken))!;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Signs in with the session cookie and sends the antiforgery token it answers with from then on.</summary>
    internal static async Task SignInAsync(HttpClient web, string email, string password)
    {
        using var response = await web.PostAsJsonAsync("/api/account/signin", new { email, password }, TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"sign-in as {email} at {web.BaseAddress}: {response.StatusCode}");
        var signedIn = (await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!;
        web.DefaultRequestHeaders.Remove((string)signedIn["antiforgeryHeader"]!);
        web.DefaultRequestHeaders.Add((string)signedIn["antiforgeryHeader"]!, (string)signedIn["antiforgeryToken"]!);
    }

    internal static async Task<JsonNode> PostAsync(HttpClient web, string path, object body)
    {
        using var response = await web.PostAsJsonAsync(path, body, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return string.IsNullOrEmpty(text) ? new JsonObject() : JsonNode.Parse(text)!;
    }

    internal static async Task<JsonNode> GetJsonAsync(HttpClient web, string path)
    {
        using var response = await web.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value, or fails naming <paramref name="what"/> after <see cref="EffectTimeout"/>.</summary>
    internal static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what) where T : class
    {
        var deadline = DateTime.UtcNow + EffectTimeout;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {EffectTimeout} waiting for {what}.");
            }
            await Task.Delay(PollInterval, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>A project, a case, a run and a passed result in the signed-in tenant: the result's forecast job follows.</summary>
    internal static async Task RecordAResultAsync(HttpClient web)
    {
        var projectId = (long)(await PostAsync(web, "/api/projects", new { name = $"Checkout {Guid.NewGuid():N}" }))["id"]!;
        var caseId = (long)(await PostAsync(web, $"/api/projects/{projectId}/cases", new { title = "Pay by card" }))["id"]!;
        var runId = (long)(await PostAsync(web, $"/api/projects/{projectId}/runs", new { name = "Nightly" }))["id"]!;
        await PostAsync(web, $"/api/runs/{runId}/results", new { results = new[] { new { caseId, status = "Passed", elapsedMs = 800 } } });
    }

    /// <summary>The signed-in tenant's counts on its forecast-updates queue, from its Admin > Job Queues API.</summary>
    internal static async Task<JsonNode?> ForecastCountsAsync(HttpClient web) =>
        (await GetJsonAsync(web, "/api/admin/queues"))["queues"]!.AsArray()
            .Single(q => (string?)q!["queue"] == "forecast-updates")!["counts"];
}
