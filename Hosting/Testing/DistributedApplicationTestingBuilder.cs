using System.Reflection;
using System.Runtime.ExceptionServices;

namespace Hosting.Testing;

/// <summary>
/// Aspire.Hosting.Testing's role: builds the AppHost's own topology inside a test, with free ports, a temporary
/// state directory (deleted when the application is disposed), no container runtime unless asked for, and output
/// routed to the test. Then <c>Build()</c>, <c>StartAsync()</c>, <c>WaitForResourceHealthyAsync</c>,
/// <c>CreateHttpClient</c>, <c>GetConnectionStringAsync</c>, and <c>DisposeAsync</c> to stop everything.
/// </summary>
public static class DistributedApplicationTestingBuilder
{
    /// <summary>
    /// Runs the AppHost's entry point (the assembly of <typeparamref name="TEntryPoint"/>) up to its <c>Build()</c>
    /// and returns its builder, configured for the test, so the test builds and starts exactly that topology.
    /// </summary>
    public static async Task<DistributedApplicationBuilder> CreateAsync<TEntryPoint>(string[]? args = null, Action<DistributedApplicationOptions>? configure = null)
        where TEntryPoint : class
    {
        var assembly = typeof(TEntryPoint).Assembly;
        var entryPoint = assembly.EntryPoint ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no entry point.");
        var hook = new TestingHook(TestOptions(assembly, configure));
        DistributedApplicationBuilder.TestingHook = hook;
        try
        {
            var result = entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? [] : [args ?? []]);
            if (result is Task task)
            {
                await task;
            }
        }
        catch (Exception ex) when (Unwrap(ex) is BuilderCapturedException)
        {
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
        }
        finally
        {
            DistributedApplicationBuilder.TestingHook = null;
        }
        return hook.Captured ?? throw new InvalidOperationException($"{assembly.GetName().Name}'s entry point returned without calling DistributedApplicationBuilder.Build().");
    }

    /// <summary>An empty builder with the test defaults, for topologies declared in the test itself.</summary>
    public static DistributedApplicationBuilder Create(string[]? args = null, Action<DistributedApplicationOptions>? configure = null)
    {
        var options = TestOptions(null, configure);
        options.Args = args ?? [];
        return DistributedApplication.CreateBuilder(options);
    }

    private static DistributedApplicationOptions TestOptions(Assembly? appHost, Action<DistributedApplicationOptions>? configure)
    {
        var options = new DistributedApplicationOptions
        {
            AppHostAssembly = appHost,
            StateDirectory = Path.Combine(Path.GetTempPath(), "apphost-test-" + Guid.NewGuid().ToString("N")[..12]),
            UseContainerRuntime = false,
            StopGracePeriod = TimeSpan.FromSeconds(5),
            DeleteStateDirectoryOnDispose = true,
        };
        configure?.Invoke(options);
        return options;
    }

    private static Exception Unwrap(Exception ex) => ex is TargetInvocationException { InnerException: { } inner } ? inner : ex;
}

internal sealed class BuilderCapturedException() : Exception("The AppHost's builder was handed to the test.");

/// <summary>Applies the test's options to the builder the AppHost creates and takes it at <c>Build()</c>.</summary>
internal sealed class TestingHook(DistributedApplicationOptions testOptions)
{
    public DistributedApplicationBuilder? Captured { get; private set; }

    public void Configure(DistributedApplicationOptions options)
    {
        options.AppHostAssembly = testOptions.AppHostAssembly;
        options.AppHostDirectory ??= testOptions.AppHostDirectory;
        options.StateDirectory = testOptions.StateDirectory;
        options.Configuration = testOptions.Configuration ?? options.Configuration;
        options.Output = testOptions.Output ?? options.Output;
        options.UseContainerRuntime = testOptions.UseContainerRuntime;
        options.StopGracePeriod = testOptions.StopGracePeriod;
        options.DeleteStateDirectoryOnDispose = testOptions.DeleteStateDirectoryOnDispose;
        options.Args = [.. options.Args, .. testOptions.Args];
    }

    public void Capture(DistributedApplicationBuilder builder)
    {
        Captured = builder;
        throw new BuilderCapturedException();
    }
}
