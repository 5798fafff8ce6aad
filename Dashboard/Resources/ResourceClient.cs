using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Dashboard.Resources;

/// <summary>
/// Reads resource states and console output from the AppHost's loopback resource API (Hosting's
/// <c>ResourceService</c>) and forwards stop/start/restart to it. The AppHost's JSON passes through unchanged.
/// </summary>
internal sealed class ResourceClient(IHttpClientFactory httpClients, IOptions<DashboardOptions> options)
{
    public bool IsConfigured => options.Value.ResourceServiceUrl is not null;

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
