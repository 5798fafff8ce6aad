using System.Net;
using Tests.Infrastructure;

namespace Tests.Services;

/// <summary>Every service starts, answers its health probes, and stops cleanly on SIGTERM.</summary>
public sealed class ServiceLifecycleTests(TestServers servers)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    public static TheoryData<string> Services => ["Web", "Workers", "Scheduler"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Service_serves_health_and_alive_and_exits_zero_on_sigterm(string project)
    {
        var redis = await servers.RedisAsync();
        await using var valkey = await redis.CreateDatabaseAsync();
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync(project);
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__valkey"] = valkey.ConnectionString,
            ["ConnectionStrings__db"] = database.ConnectionString,
            ["INSTANCE_TENANT_ID"] = project == "Web" ? "tenant-a" : null,
            // A tenant's own instance reads its tenant's settings; single-tenant workers and scheduler have none (issue 18:
            // tenant settings without MULTI_TENANT_MODE stop them).
            ["TENANT_TENANT_A_SIGNING_KEY"] = project == "Web" ? "lifecycle-signing-key" : null,
        };
        // The scheduler reconciles once and exits unless told to watch; as a long-running service it watches.
        await using var service = ServiceHost.Start(project, environment, project == "Scheduler" ? ["--watch"] : []);
        await service.WaitUntilHealthyAsync(StartTimeout);

        using var http = new HttpClient { BaseAddress = service.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/alive", UriKind.Relative))).StatusCode);

        service.Terminate();

        Assert.True(await service.WaitForExitAsync(StopTimeout), $"{project} did not stop within {StopTimeout.TotalSeconds:0}s of SIGTERM:\n{service.Output}");
        Assert.Equal(0, service.ExitCode);
        Assert.Contains("Application is shutting down", service.Output, StringComparison.Ordinal);
    }
}
