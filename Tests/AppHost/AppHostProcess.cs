using System.Diagnostics;
using Tests.Infrastructure;

namespace Tests.AppHost;

/// <summary>
/// The AppHost run from its build output as a user runs it (<c>dotnet AppHost.dll ...</c>), to completion. Its home
/// folder is a directory of the test's, so it never reads the developer's user secrets (~/.microsoft/usersecrets).
/// </summary>
internal static class AppHostProcess
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    public sealed record Result(int ExitCode, string Output, string Error);

    public static Task<Result> RunAsync(params string[] arguments) => RunAsync(new Dictionary<string, string>(), arguments);

    /// <param name="environment">Variables of the run; <c>HOME</c> among them names the home folder, else an empty one is made and removed.</param>
    public static async Task<Result> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var home = environment.GetValueOrDefault("HOME");
        var ownHome = home is null;
        home ??= Directory.CreateTempSubdirectory("apphost-home-").FullName;
        try
        {
            return await RunInAsync(home, environment, arguments);
        }
        finally
        {
            if (ownHome)
            {
                Directory.Delete(home, recursive: true);
            }
        }
    }

    private static async Task<Result> RunInAsync(string home, IReadOnlyDictionary<string, string> environment, string[] arguments)
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
        info.Environment["HOME"] = home;
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
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
