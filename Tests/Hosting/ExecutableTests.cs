using Hosting;
using Hosting.Orchestration;
using Hosting.Testing;

namespace Tests.Hosting;

/// <summary>Executables: a missing one is reported with its install command; WaitForCompletion gates on exit code 0.</summary>
public sealed class ExecutableTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_missing_executable_is_reported_with_the_command_that_installs_it()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        builder.AddExecutable("ghost", "no-such-program-for-apphost-tests", ".").WithInstallCommand("apt-get install -y ghost-tools");
        await using var app = builder.Build();

        await app.StartAsync(TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.WaitForResourceHealthyAsync("ghost", TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken));

        Assert.Contains("Install it with: apt-get install -y ghost-tools", error.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceState.FailedToStart, Assert.Single(app.GetResourceStates()).State);
    }

    [Fact]
    public async Task A_resource_waiting_for_completion_starts_after_its_dependency_exits_zero()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var migrate = builder.AddExecutable("migrate", "sh", ".", "-c", "sleep 0.3; echo migrated");
        builder.AddExecutable("app", "sleep", ".", "30").WaitForCompletion(migrate);
        await using var app = builder.Build();

        await app.StartAsync(TestContext.Current.CancellationToken);
        await app.WaitForResourceHealthyAsync("app", TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken);

        var states = app.GetResourceStates().ToDictionary(s => s.Name);
        Assert.Equal(ResourceState.Finished, states["migrate"].State);
        Assert.Equal(ResourceState.Healthy, states["app"].State);
    }

    [Fact]
    public async Task A_dependency_that_fails_fails_its_dependents_instead_of_starting_them()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var migrate = builder.AddExecutable("migrate", "sh", ".", "-c", "exit 3");
        builder.AddExecutable("app", "sleep", ".", "30").WaitForCompletion(migrate);
        await using var app = builder.Build();

        await app.StartAsync(TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.WaitForResourceHealthyAsync("app", TestContext.Current.CancellationToken).WaitAsync(Timeout, TestContext.Current.CancellationToken));

        Assert.Contains("dependency 'migrate' failed", error.Message, StringComparison.Ordinal);
        Assert.Empty(app.GetResourceStates().Single(s => s.Name == "app").ProcessIds);
    }
}
