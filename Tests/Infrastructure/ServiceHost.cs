using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Tests.Infrastructure;

/// <summary>
/// One of the solution's services (Web, Workers, Scheduler) started from its build output as a real process
/// on a free port, the way an orchestrator runs it. Output is kept so assertions and failures can show it.
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceHost(Process process, int port)
    {
        _process = process;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
    }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output => string.Join('\n', _output);

    /// <summary>Starts <paramref name="project"/> (its folder name) with the given environment on a free port.</summary>
    public static ServiceHost Start(string project, IReadOnlyDictionary<string, string?>? environment = null, params string[] arguments)
    {
        var assembly = BuildOutputOf(project);
        var port = FreePort.Next();
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
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        info.Environment["DOTNET_ENVIRONMENT"] = "Development";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        // The test runner's own telemetry settings must not leak into the service under test.
        info.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var host = new ServiceHost(process, port);
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits until <c>/health</c> answers 200, failing with the service's output if it exits or times out.</summary>
    public async Task WaitUntilHealthyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Service exited with {_process.ExitCode} before it was healthy:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync(new Uri("/health", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Service was not healthy after {timeout.TotalSeconds:0}s:\n{Output}");
    }

    /// <summary>Sends SIGTERM, as Kubernetes and the AppHost do to stop a service.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -TERM {_process.Id} failed with exit code {kill.ExitCode}.");
        }
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            // Drains the redirected output after exit.
            await _process.WaitForExitAsync(CancellationToken.None);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
    }

    /// <summary>The service's assembly in its build output, in the configuration the tests were built in.</summary>
    internal static string BuildOutputOf(string project)
    {
        var testsBin = AppContext.BaseDirectory; // <repo>/Tests/bin/<Configuration>/net10.0/
        var framework = new DirectoryInfo(testsBin).Name;
        var configuration = new DirectoryInfo(testsBin).Parent!.Name;
        var repo = new DirectoryInfo(testsBin).Parent!.Parent!.Parent!.Parent!.FullName;
        var assembly = Path.Combine(repo, project, "bin", configuration, framework, project + ".dll");
        return File.Exists(assembly)
            ? assembly
            : throw new FileNotFoundException($"{project} is not built at {assembly}; build the solution first (dotnet build Aspire.sln -c {configuration}).");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }
        _output.Enqueue(line);
        while (_output.Count > 2000 && _output.TryDequeue(out _))
        {
        }
    }
}
