using System.Net;
using Tests.Infrastructure;

namespace Tests.Services;

/// <summary>Every service starts, answers its health probes, and stops cleanly on SIGTERM.</summary>
public sealed class ServiceLifecycleTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    public static TheoryData<string> Services => ["Web", "Workers", "Scheduler"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Service_serves_health_and_alive_and_exits_zero_on_sigterm(string project)
    {
        await using var service = ServiceHost.Start(project);
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
