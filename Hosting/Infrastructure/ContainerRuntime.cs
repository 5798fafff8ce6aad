using System.Diagnostics;

namespace Hosting.Infrastructure;

/// <summary>
/// Whether run mode can use containers. DCP does not fail container resources when the runtime is unhealthy: they, and
/// everything that waits for them, wait forever. So the AppHost asks the runtime itself before it declares a container,
/// and falls back to local executables. <c>AppHost:Containers</c> (<c>auto</c>, <c>always</c>, <c>never</c>) overrides.
/// </summary>
internal static class ContainerRuntime
{
    private static readonly TimeSpan InfoTimeout = TimeSpan.FromSeconds(8);
    private static bool? _healthy;

    public static bool UseContainers(IDistributedApplicationBuilder builder)
    {
        if (!builder.ExecutionContext.IsRunMode)
        {
            return true;
        }
        return builder.Configuration["AppHost:Containers"]?.ToLowerInvariant() switch
        {
            null or "" or "auto" => _healthy ??= IsHealthy(builder.Configuration["DcpPublisher:ContainerRuntime"] ?? builder.Configuration["ASPIRE_CONTAINER_RUNTIME"] ?? "docker"),
            "always" => true,
            "never" => false,
            var other => throw new InvalidOperationException($"AppHost:Containers is '{other}': use auto, always or never."),
        };
    }

    /// <summary><c>&lt;runtime&gt; info</c> succeeds: the client is installed and its engine answers.</summary>
    private static bool IsHealthy(string runtime)
    {
        if (Prerequisites.Find(runtime) is not { } path)
        {
            return false;
        }
        try
        {
            using var process = Process.Start(new ProcessStartInfo(path, "info")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            process.StandardOutput.ReadToEndAsync();
            process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(InfoTimeout))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
