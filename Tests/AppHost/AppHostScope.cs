extern alias AppHostProject;

using System.Diagnostics;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Tests.Infrastructure;

namespace Tests.AppHost;

/// <summary>
/// The AppHost's own Program for a test: a tenants file and a state directory of the test's (never the developer's
/// running topology's), ports chosen by DCP at random, no dashboard, and a user-secrets store of its own for the
/// generated parameters (a throwaway id in the test run's home, <see cref="TestProfile"/>; never the developer's
/// <c>multi-tenant-jobs-apphost</c>). Deletes what it wrote when disposed.
/// </summary>
internal sealed class AppHostScope : IDisposable
{
    private AppHostScope(string root) => Root = root;

    public string Root { get; }

    /// <summary>The user-secrets id of this scope's AppHost.</summary>
    public string UserSecretsId { get; } = "apphost-spec-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Where this scope's AppHost keeps its generated parameters.</summary>
    public string UserSecretsFile => Path.Combine(TestProfile.UserSecrets, UserSecretsId, "secrets.json");

    public string StateDirectory => Path.Combine(Root, "state");

    public static AppHostScope Create()
    {
        var root = Path.Combine(Path.GetTempPath(), "apphost-spec-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        // The postgres user runs the local cluster below it.
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("755", 8));
        return new AppHostScope(root);
    }

    public string WriteTenants(params string[] ids) => WriteTenantsJson(JsonSerializer.Serialize(new { tenants = ids.Select(id => new { id }) }));

    public string WriteTenantsJson(string json)
    {
        var path = Path.Combine(Root, $"tenants-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>The AppHost's builder, as its Program declares it, for the given tenants and extra arguments.</summary>
    public Task<IDistributedApplicationTestingBuilder> BuilderAsync(string[] tenants, params string[] args) =>
        BuilderForFileAsync(WriteTenants(tenants), args);

    /// <summary>The AppHost's builder for a tenants.json of the test's.</summary>
    public Task<IDistributedApplicationTestingBuilder> BuilderForFileAsync(string tenantsFile, params string[] args) =>
        DistributedApplicationTestingBuilder.CreateAsync<AppHostProject::Program>(
            ["--AppHost:Tenants", tenantsFile, "--APPHOST_STATE_DIR", StateDirectory, "--DcpPublisher:RandomizePorts", "true",
                "--ASPIRE_USER_SECRETS_ID", UserSecretsId, .. args],
            (options, _) => options.DisableDashboard = true,
            TestContext.Current.CancellationToken);

    /// <summary>
    /// The same with the real Aspire dashboard, on ports of the test's (never the developer's 15170); its address and
    /// login token come from <c>GetDashboardUrlAsync</c> once the application runs.
    /// </summary>
    public Task<IDistributedApplicationTestingBuilder> BuilderWithDashboardAsync(string[] tenants) =>
        DistributedApplicationTestingBuilder.CreateAsync<AppHostProject::Program>(
            [
                "--AppHost:Tenants", WriteTenants(tenants), "--APPHOST_STATE_DIR", StateDirectory, "--DcpPublisher:RandomizePorts", "true",
                "--ASPNETCORE_URLS", $"http://localhost:{FreePort.Next()}",
                "--ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL", $"http://localhost:{FreePort.Next()}",
                "--ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL", $"http://localhost:{FreePort.Next()}",
                "--ASPIRE_ALLOW_UNSECURED_TRANSPORT", "true",
                "--ASPIRE_USER_SECRETS_ID", UserSecretsId,
            ],
            (options, _) =>
            {
                options.DisableDashboard = false;
                options.AllowUnsecuredTransport = true;
            },
            TestContext.Current.CancellationToken);

    /// <summary>The processes whose command line mentions this scope's directory (the local servers it started).</summary>
    public IReadOnlyList<int> ProcessesMentioningRoot() =>
        Directory.GetDirectories("/proc")
            .Select(dir => int.TryParse(Path.GetFileName(dir), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && pid != Environment.ProcessId)
            .Where(pid =>
            {
                try
                {
                    return File.ReadAllText($"/proc/{pid}/cmdline").Contains(Root, StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false;
                }
                catch (UnauthorizedAccessException)
                {
                    return false;
                }
            })
            .ToList();

    public void Dispose()
    {
        TestProfile.Delete(Path.GetDirectoryName(UserSecretsFile)!);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Trace.WriteLine($"Could not delete {Root}: {ex.Message}");
        }
    }
}
