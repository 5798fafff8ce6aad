using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Hosting;
using Hosting.Orchestration;
using Hosting.Testing;

namespace Tests.Hosting;

/// <summary>
/// The AppHost's resource API for the Dashboard: states, masked environment, console output, and stop / start /
/// restart, on a topology of the Dashboard and one executable.
/// </summary>
public sealed class ResourceServiceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The Dashboard project, found from the test's build output as the AppHost's generated metadata would name it.</summary>
    private sealed class DashboardProject : IProjectMetadata
    {
        public string ProjectPath
        {
            get
            {
                for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
                {
                    var candidate = Path.Combine(directory.FullName, "Dashboard", "Dashboard.csproj");
                    if (File.Exists(candidate))
                    {
                        return candidate;
                    }
                }
                throw new InvalidOperationException("Dashboard/Dashboard.csproj not found above " + AppContext.BaseDirectory);
            }
        }
    }

    [Fact]
    public async Task The_dashboard_reads_states_and_console_output_and_stops_starts_and_restarts_a_resource()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var builder = DistributedApplicationTestingBuilder.Create();
        builder.AddDashboard<DashboardProject>("dashboard");
        builder.AddExecutable("sleeper", "sh", ".", "-c", "echo sleeper is up; exec sleep 600");
        await using var app = builder.Build();
        await app.StartAsync(cancellationToken);
        await app.WaitForAllHealthyAsync(cancellationToken).WaitAsync(Timeout, cancellationToken);

        var dashboard = app.Resources.OfType<ProjectResource>().Single(r => r.Name == "dashboard");
        var url = new Uri(dashboard.Environment.Single(e => e.Key == "Dashboard__ResourceServiceUrl").Value.Render(ValueTarget.Run));
        var key = app.Resources.OfType<ParameterResource>().Single(p => p.Name == "dashboard-resource-api-key").Render(ValueTarget.Run);
        using var http = new HttpClient { BaseAddress = url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri("resources", UriKind.Relative), cancellationToken)).StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var resources = (await GetJsonAsync(http, "resources")).GetProperty("resources").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal("Healthy", resources["sleeper"].GetProperty("state").GetString());
        Assert.Equal("Healthy", resources["dashboard"].GetProperty("health").GetString());
        Assert.StartsWith("http://127.0.0.1:", resources["dashboard"].GetProperty("endpoints")[0].GetProperty("url").GetString(), StringComparison.Ordinal);
        var loginToken = resources["dashboard"].GetProperty("environment").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "Dashboard__LoginToken");
        Assert.True(loginToken.GetProperty("secret").GetBoolean());
        Assert.DoesNotContain(app.DashboardLoginUrl![(app.DashboardLoginUrl!.IndexOf("?t=", StringComparison.Ordinal) + 3)..], loginToken.GetProperty("value").GetString(), StringComparison.Ordinal);

        var console = await GetJsonAsync(http, "resources/sleeper/console");
        Assert.Contains("sleeper is up", console.GetProperty("lines").EnumerateArray().Select(l => l.GetString()));

        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync(new Uri("resources/sleeper/start", UriKind.Relative), null, cancellationToken)).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync(new Uri("resources/sleeper/stop", UriKind.Relative), null, cancellationToken)).StatusCode);
        Assert.Equal(ResourceState.Stopped, app.GetResourceStates().Single(s => s.Name == "sleeper").State);

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync(new Uri("resources/sleeper/start", UriKind.Relative), null, cancellationToken)).StatusCode);
        await app.WaitForResourceHealthyAsync("sleeper", cancellationToken).WaitAsync(Timeout, cancellationToken);
        var firstPid = Assert.Single(app.GetResourceStates().Single(s => s.Name == "sleeper").ProcessIds);

        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync(new Uri("resources/sleeper/restart", UriKind.Relative), null, cancellationToken)).StatusCode);
        await app.WaitForResourceHealthyAsync("sleeper", cancellationToken).WaitAsync(Timeout, cancellationToken);
        var secondPid = Assert.Single(app.GetResourceStates().Single(s => s.Name == "sleeper").ProcessIds);
        Assert.NotEqual(firstPid, secondPid);
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        var response = await http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
    }
}
