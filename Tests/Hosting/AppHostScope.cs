extern alias AppHostProject;

using System.Collections.Concurrent;
using System.Text.Json;
using Hosting;
using Hosting.Testing;

namespace Tests.Hosting;

/// <summary>Builds the AppHost's own topology (its Program) for a test, with a tenants file and state directory of the test's.</summary>
internal sealed class AppHostScope : IDisposable
{
    private AppHostScope(string root) => Root = root;

    public string Root { get; }

    public string StateDirectory => Path.Combine(Root, "state");

    /// <summary>Every output line of the application, in order.</summary>
    public ConcurrentQueue<string> Lines { get; } = new();

    public static AppHostScope Create()
    {
        var root = Path.Combine(Path.GetTempPath(), "apphost-spec-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        return new AppHostScope(root);
    }

    public string WriteTenants(params string[] ids)
    {
        var path = Path.Combine(Root, $"tenants-{ids.Length}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new { tenants = ids.Select(id => new { id }) }));
        return path;
    }

    /// <summary>The AppHost's builder, as its Program declares it, for the given tenants and extra arguments.</summary>
    public Task<DistributedApplicationBuilder> BuilderAsync(string[] tenants, params string[] args) =>
        DistributedApplicationTestingBuilder.CreateAsync<AppHostProject::Program>(
            ["--AppHost:Tenants", WriteTenants(tenants), .. args],
            options =>
            {
                options.StateDirectory = StateDirectory;
                options.DeleteStateDirectoryOnDispose = false;
                options.Output = line =>
                {
                    Lines.Enqueue(line);
                    TestContext.Current.TestOutputHelper?.WriteLine(line);
                };
            });

    public Dictionary<string, string> StoredParameters() =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(StateDirectory, "parameters.json")))!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
