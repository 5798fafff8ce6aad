using System.Globalization;
using System.Runtime.CompilerServices;

namespace Tests.Infrastructure;

/// <summary>
/// A test run writes nothing into the developer's home directory or /tmp, and neither do the processes it starts.
/// Before any test runs, the test process sets, for itself and (inherited) every process it starts:
/// <list type="bullet">
/// <item><c>HOME</c>: a home of the run's own. What the AppHost, DCP and the dashboard keep there would otherwise land
/// in the developer's: the AppHost's generated parameters in user secrets
/// (<c>~/.microsoft/usersecrets/multi-tenant-jobs-apphost</c>), publishing's deployment state (<c>~/.aspire/deployments</c>),
/// the dashboard's telemetry of each run (<c>~/.aspire/dashboard/runs</c>), DCP's state (<c>~/.dcp</c>), data-protection
/// keys (<c>~/.aspnet</c>). <c>NUGET_PACKAGES</c> keeps pointing at the developer's package folder, which the projects
/// DCP starts with <c>dotnet run</c> resolve from, and <c>DOTNET_CLI_HOME</c> at the developer's home, where the dotnet
/// CLI keeps its first-use sentinels: in a fresh home its first <c>dotnet run</c> goes through first use again (and
/// leaves two empty directories in /tmp); with them present it writes nothing there.</item>
/// <item><c>DOTNET_EnableDiagnostics=0</c>: every .NET process creates <c>/tmp/clr-debug-pipe-*</c> and
/// <c>/tmp/dotnet-diagnostic-*</c>, and one that is killed (as a test kills a service, or DCP a project) leaves them
/// behind.</item>
/// </list>
/// The run's directory is <c>$TMPDIR/aspire-test-servers/profile-&lt;pid&gt;</c>, deleted when the run ends; a killed
/// run's is reaped by the next (<see cref="TestRunDirectory"/>).
/// </summary>
internal static class TestProfile
{
    public const string Prefix = "profile-";

    public static string Directory { get; } = Path.Combine(TestRunDirectory.Root, Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

    /// <summary>The run's home directory, <c>HOME</c> of this process and those it starts.</summary>
    public static string Home => Path.Combine(Directory, "home");

    /// <summary>The home directory the run was started with: the developer's.</summary>
    public static string DeveloperHome { get; private set; } = "";

    public static string UserSecrets => Path.Combine(Home, ".microsoft", "usersecrets");

    [ModuleInitializer]
    internal static void Initialize()
    {
        DeveloperHome = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        System.IO.Directory.CreateDirectory(Home);
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NUGET_PACKAGES")))
        {
            Environment.SetEnvironmentVariable("NUGET_PACKAGES", Path.Combine(DeveloperHome, ".nuget", "packages"));
        }
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_CLI_HOME")))
        {
            Environment.SetEnvironmentVariable("DOTNET_CLI_HOME", DeveloperHome);
        }
        Environment.SetEnvironmentVariable("HOME", Home);
        Environment.SetEnvironmentVariable("DOTNET_NOLOGO", "1");
        // Nor does the CLI keep telemetry for what the tests run.
        Environment.SetEnvironmentVariable("DOTNET_CLI_TELEMETRY_OPTOUT", "1");
        Environment.SetEnvironmentVariable("DOTNET_EnableDiagnostics", "0");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Delete(Directory);
            // The shared root too, once no run uses it.
            try
            {
                System.IO.Directory.Delete(TestRunDirectory.Root);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
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
