using Tests.Infrastructure;

namespace Tests.Services;

/// <summary>A configuration error ends a service with exit code 1 and a message naming the place, no stack trace.</summary>
public sealed class ConfigurationExitTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string, string, string> Cases => new()
    {
        { "Workers", "MULTI_TENANT_MODE", "1" },
        { "Workers", "MULTI_TENANT_MODE", "yes" },
        { "Scheduler", "MULTI_TENANT_MODE", "yes" },
        { "Workers", "TENANT_TENANT__B_DATABASE_URL", "postgresql://u:p@localhost/b" },
        { "Web", "MULTI_TENANT_MODE", "1" },
        { "Workers", "TENANT_CONFIGS", "{\"tenant-a\":{\"databaseUrl\":\"postgresql://u:p@127.0.0.1:1/a\",\"signingKye\":\"k\"}}" },
        { "Scheduler", "TENANT_CONFIGS", "{\"tenant-a\":{\"dbUrl\":\"postgresql://u:p@127.0.0.1:1/a\"}}" },
        { "Workers", "MULTI_TENANT_MODE", "" },
        { "Scheduler", "MULTI_TENANT_MODE", "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_setting_stops_the_service_with_exit_code_1_naming_it_without_a_stack_trace(string project, string variable, string value)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__valkey"] = "127.0.0.1:1",
            ["ConnectionStrings__db"] = "Host=127.0.0.1;Port=1;Database=x;Username=x;Password=x",
            ["INSTANCE_TENANT_ID"] = project == "Web" ? "tenant-a" : null,
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = "{\"tenant-a\":{\"databaseUrl\":\"postgresql://u:p@127.0.0.1:1/a\",\"signingKey\":\"k\"}}",
            [variable] = value,
        };
        await using var service = ServiceHost.Start(project, environment);

        Assert.True(await service.WaitForExitAsync(ExitTimeout), $"{project} kept running:\n{service.Output}");
        Assert.Equal(1, service.ExitCode);
        Assert.Contains($"configuration error: {variable}", service.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", service.Output, StringComparison.Ordinal);
    }
}
