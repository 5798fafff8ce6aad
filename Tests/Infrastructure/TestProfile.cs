using System.Globalization;
using System.Runtime.CompilerServices;

namespace Tests.Infrastructure;

/// <summary>
/// What the tests and every process they start would otherwise leave in the user's profile or in /tmp, sent to this
/// run's own directory instead, before any test runs:
/// <list type="bullet">
/// <item>User secrets (<c>APPDATA</c>): the AppHost keeps its generated parameters (passwords, signing keys) there;
/// an AppHost built by a test would write them into the developer's real store,
/// <c>~/.microsoft/usersecrets/multi-tenant-jobs-apphost</c>.</item>
/// <item>Data-protection keys (<c>LOCALAPPDATA</c>): the AppHost's resource service and the dashboard create a key
/// ring in <c>~/.aspnet/DataProtection-Keys</c> otherwise.</item>
/// <item>No debugger pipes or diagnostics sockets (<c>DOTNET_EnableDiagnostics=0</c>): every .NET process creates
/// <c>/tmp/clr-debug-pipe-*</c> and <c>/tmp/dotnet-diagnostic-*</c>, and a process that is killed (as a test kills
/// a service, or DCP a project) leaves them behind.</item>
/// </list>
/// Child processes inherit all three. The directory is <c>$TMPDIR/aspire-test-servers/profile-&lt;pid&gt;</c>, deleted
/// when the run ends; a killed run's is reaped by the next (<see cref="TestRunDirectory"/>).
/// </summary>
internal static class TestProfile
{
    public const string Prefix = "profile-";

    public static string Directory { get; } = Path.Combine(TestRunDirectory.Root, Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

    public static string UserSecrets => Path.Combine(Directory, "appdata", "Microsoft", "UserSecrets");

    [ModuleInitializer]
    internal static void Initialize()
    {
        System.IO.Directory.CreateDirectory(Directory);
        Environment.SetEnvironmentVariable("APPDATA", Path.Combine(Directory, "appdata"));
        Environment.SetEnvironmentVariable("LOCALAPPDATA", Path.Combine(Directory, "localappdata"));
        Environment.SetEnvironmentVariable("DOTNET_EnableDiagnostics", "0");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Delete(Directory);
    }

    internal static void Delete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
