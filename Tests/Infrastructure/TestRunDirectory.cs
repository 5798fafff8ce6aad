using System.Diagnostics;
using System.Globalization;

namespace Tests.Infrastructure;

/// <summary>
/// A temporary directory for one test run's servers: <c>$TMPDIR/aspire-test-servers/run-&lt;pid&gt;</c>.
/// Each server records its process id in a <c>*.pid</c> file there, so that when a run is killed before it can
/// clean up, the next run finds the directory of a dead test process, kills what it left running and deletes it.
/// </summary>
public sealed class TestRunDirectory : IDisposable
{
    internal static readonly string Root = Path.Combine(Path.GetTempPath(), "aspire-test-servers");

    private TestRunDirectory(string path) => FullPath = path;

    public string FullPath { get; }

    public static TestRunDirectory Create()
    {
        Directory.CreateDirectory(Root);
        // Others (the postgres user) must be able to reach the data directories below.
        File.SetUnixFileMode(Root, (UnixFileMode)Convert.ToInt32("755", 8));
        ReapAbandonedRuns();
        var path = Path.Combine(Root, "run-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
        return new TestRunDirectory(path);
    }

    /// <summary>A fresh subdirectory for one server.</summary>
    public string CreateSubdirectory(string name)
    {
        var path = Path.Combine(FullPath, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
        return path;
    }

    /// <summary>Records a server process so a later run can reap it if this run dies.</summary>
    public void RecordProcess(string name, int pid) =>
        File.WriteAllText(Path.Combine(FullPath, name + ".pid"), pid.ToString(CultureInfo.InvariantCulture));

    public void Dispose()
    {
        try
        {
            Directory.Delete(FullPath, recursive: true);
        }
        catch (IOException)
        {
            // A server still flushing; the next run's reaper removes what is left.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void ReapAbandonedRuns()
    {
        foreach (var dir in Directory.GetDirectories(Root, TestProfile.Prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(dir)[TestProfile.Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var owner) && !IsAlive(owner))
            {
                TestProfile.Delete(dir);
            }
        }
        foreach (var dir in Directory.GetDirectories(Root, "run-*"))
        {
            if (!int.TryParse(Path.GetFileName(dir)["run-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var owner)
                || IsAlive(owner))
            {
                continue;
            }
            foreach (var pidFile in Directory.GetFiles(dir, "*.pid"))
            {
                if (int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && IsAlive(pid))
                {
                    try
                    {
                        using var process = Process.GetProcessById(pid);
                        process.Kill(entireProcessTree: true);
                        process.WaitForExit(5000);
                    }
                    catch (ArgumentException)
                    {
                    }
                    catch (InvalidOperationException)
                    {
                    }
                }
            }
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
