using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tests.EndToEnd;

/// <summary>What the whole-topology tests do with a tenant's web app: sign in, call its API, wait for an effect.</summary>
internal static class TopologyClient
{
    private static readonly TimeSpan EffectTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    internal static async Task SignInAsync(HttpClient web, string email, string password)
    {
        using var response = await web.PostAsJsonAsync("/api/account/signin", new { email, password }, TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"sign-in as {email} at {web.BaseAddress}: {response.StatusCode}");
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
