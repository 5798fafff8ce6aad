using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace Hosting.Orchestration;

/// <summary>
/// A child process of the AppHost with its output streamed, line by line, under the resource's name.
/// Stopping sends SIGTERM (<c>kill -TERM</c>) and, after the grace period, kills the whole process tree.
/// </summary>
internal sealed class ManagedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ManagedProcess(Process process) => _process = process;

    public int Id { get; private set; }

    public Task<int> Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    public static ManagedProcess Start(ProcessLaunch launch, Action<string> output)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = launch.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        if (launch.RunAsUser is not null)
        {
            info.FileName = "runuser";
            foreach (var argument in new[] { "-u", launch.RunAsUser, "--", launch.FileName })
            {
                info.ArgumentList.Add(argument);
            }
        }
        else
        {
            info.FileName = launch.FileName;
        }
        foreach (var argument in launch.Arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in launch.Environment)
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
        var managed = new ManagedProcess(process);
        var drained = 0;
        void Line(string? line)
        {
            if (line is null)
            {
                // Both streams closed and the process gone: only then is the exit code final and the output complete.
                if (Interlocked.Increment(ref drained) == 2)
                {
                    // Not inline: waiting for exit here would wait for this very callback to return.
                    _ = Task.Run(async () =>
                    {
                        await process.WaitForExitAsync();
                        managed._exited.TrySetResult(process.ExitCode);
                    });
                }
                return;
            }
            output(line);
        }
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new PrerequisiteMissingException($"Cannot start {launch.FileName}: {ex.Message}.", ex);
        }
        managed.Id = process.Id;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>Runs a command to completion; throws with its output when it fails.</summary>
    public static async Task<string> RunToCompletionAsync(ProcessLaunch launch, TimeSpan timeout)
    {
        var lines = new List<string>();
        await using var process = Start(launch, line =>
        {
            lock (lines)
            {
                lines.Add(line);
            }
        });
        using var cts = new CancellationTokenSource(timeout);
        int exitCode;
        try
        {
            exitCode = await process.Exited.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{launch.FileName} did not finish within {timeout.TotalSeconds:0}s.");
        }
        var output = string.Join('\n', lines);
        return exitCode == 0
            ? output
            : throw new InvalidOperationException($"{launch.FileName} {string.Join(' ', launch.Arguments)} exited with {exitCode}:\n{output}");
    }

    /// <summary>SIGTERM, then SIGKILL to the whole tree once <paramref name="grace"/> has passed.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (HasExited)
        {
            return;
        }
        try
        {
            using var kill = Process.Start("kill", ["-TERM", Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }
        catch (Win32Exception)
        {
            // No kill(1): the hard kill below still ends the process.
        }
        if (await Task.WhenAny(Exited, Task.Delay(grace)) != Exited)
        {
            Kill();
            await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        catch (Win32Exception)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Kill();
            await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromSeconds(5)));
        }
        _process.Dispose();
    }
}

internal sealed record ProcessLaunch(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string?> Environment,
    string? WorkingDirectory = null,
    string? RunAsUser = null)
{
    public static ProcessLaunch Command(string fileName, params string[] arguments) =>
        new(fileName, arguments, new Dictionary<string, string?>());
}

/// <summary>A program or package the resource needs is not installed; the message says how to install it.</summary>
public sealed class PrerequisiteMissingException : Exception
{
    public PrerequisiteMissingException()
    {
    }

    public PrerequisiteMissingException(string message) : base(message)
    {
    }

    public PrerequisiteMissingException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

internal static class Prerequisites
{
    /// <summary>The full path of <paramref name="command"/> (a path, or a name searched on PATH), or null.</summary>
    public static string? Find(string command)
    {
        if (command.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(command) ? Path.GetFullPath(command) : null;
        }
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, command);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    public static string Require(string command, string installCommand) =>
        Find(command) ?? throw Missing($"'{command}' was not found", installCommand);

    /// <summary>
    /// The directory of PostgreSQL's server binaries (initdb, postgres, pg_ctl): the newest major version under
    /// /usr/lib/postgresql (Debian keeps them off PATH), else wherever initdb is on PATH.
    /// </summary>
    /// <exception cref="PrerequisiteMissingException">Neither exists; the message gives the install command.</exception>
    public static string PostgresBinDirectory(string? context = null)
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(dir => Path.Combine(dir, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")))
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), System.Globalization.CultureInfo.InvariantCulture, out var major) ? major : 0)
                .ToList()
            : [];
        var onPath = Find("initdb");
        return candidates.FirstOrDefault()
            ?? (onPath is null ? null : Path.GetDirectoryName(Path.GetFullPath(onPath)))
            ?? throw Missing("PostgreSQL server binaries (initdb, postgres) were not found" + (context is null ? "" : " " + context), "apt-get install -y postgresql");
    }

    public static PrerequisiteMissingException Missing(string what, string installCommand) =>
        new($"{what}. Install it with: {installCommand}");
}
