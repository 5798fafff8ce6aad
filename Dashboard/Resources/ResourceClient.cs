using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Dashboard.Resources;

/// <summary>
/// Reads resource states and console output from the AppHost's loopback resource API (Hosting's
/// <c>ResourceService</c>) and forwards stop/start/restart to it. The AppHost's JSON passes through unchanged.
/// </summary>
internal sealed class ResourceClient(IHttpClientFactory httpClients, IOptions<DashboardOptions> options, TimeProvider time)
{
    private static readonly TimeSpan TenantCacheTime = TimeSpan.FromSeconds(10);
    private (DateTimeOffset At, IReadOnlyList<string> Tenants) _tenants = (DateTimeOffset.MinValue, []);

    public bool IsConfigured => options.Value.ResourceServiceUrl is not null;

    /// <summary>
    /// The tenants the topology declares (each tenant web's <c>INSTANCE_TENANT_ID</c>), so an idle tenant is listed
    /// before it has sent any telemetry. Empty without the AppHost; cached for a few seconds.
    /// </summary>
    public async Task<IReadOnlyList<string>> DeclaredTenantsAsync(CancellationToken cancellationToken)
    {
        var cached = _tenants;
        if (!IsConfigured || time.GetUtcNow() - cached.At < TenantCacheTime)
        {
            return cached.Tenants;
        }
        var (status, json) = await GetAsync("resources", cancellationToken);
        IReadOnlyList<string> tenants = [];
        if (status == StatusCodes.Status200OK)
        {
            using var document = JsonDocument.Parse(json);
            tenants = [.. document.RootElement.GetProperty("resources").EnumerateArray()
                .SelectMany(r => r.TryGetProperty("environment", out var environment) ? environment.EnumerateArray() : [])
                .Where(e => e.GetProperty("name").GetString() == "INSTANCE_TENANT_ID" && !e.GetProperty("secret").GetBoolean())
                .Select(e => e.GetProperty("value").GetString())
                .OfType<string>()
                .Distinct()];
        }
        _tenants = (time.GetUtcNow(), tenants);
        return tenants;
    }

    public async Task<(int Status, string Json)> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, path);
        return await SendAsync(request, cancellationToken);
    }

    public async Task<(int Status, string Json)> PostAsync(string path, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Post, path);
        return await SendAsync(request, cancellationToken);
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(options.Value.ResourceServiceUrl!, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.ResourceServiceApiKey);
        return request;
    }

    private async Task<(int, string)> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var http = httpClients.CreateClient(nameof(ResourceClient));
        http.Timeout = TimeSpan.FromSeconds(10);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (HttpRequestException ex)
        {
            return (StatusCodes.Status502BadGateway, JsonSerializer.Serialize(new { error = "The AppHost's resource API is not reachable: " + ex.Message }));
        }
    }
}
