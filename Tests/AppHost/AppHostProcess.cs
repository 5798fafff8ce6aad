using System.Diagnostics;
using Tests.Infrastructure;

namespace Tests.AppHost;

/// <summary>The AppHost run from its build output as a user runs it (<c>dotnet AppHost.dll ...</c>), to completion.</summary>
internal static class AppHostProcess
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public sealed record Result(int ExitCode, string Output, string Error);

    public static async Task<Result> RunAsync(params string[] arguments)
    {
        var assembly = ServiceHost.BuildOutputOf("AppHost");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        info.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["DOTNET_ENVIRONMENT"] = "Development";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The AppHost did not finish within {Timeout}: {string.Join(' ', arguments)}");
        }
        return new Result(process.ExitCode, await output, await error);
    }
}
