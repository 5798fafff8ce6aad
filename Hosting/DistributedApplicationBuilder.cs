using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Hosting;

/// <summary>Settings of one AppHost run. <see cref="Testing.DistributedApplicationTestingBuilder"/> sets them for tests.</summary>
public sealed class DistributedApplicationOptions
{
    public string[] Args { get; set; } = [];

    /// <summary>The AppHost project's directory: relative project paths and the default state directory start here.</summary>
    public string? AppHostDirectory { get; set; }

    /// <summary>Where parameters, data and logs persist. Default: <c>$APPHOST_STATE_DIR</c>, else <c>&lt;AppHost&gt;/.apphost</c>.</summary>
    public string? StateDirectory { get; set; }

    /// <summary>Build configuration whose output projects are started from. Default: the AppHost's own.</summary>
    public string? Configuration { get; set; }

    /// <summary>Receives every output line (resource output prefixed by its name). Default: the console.</summary>
    public Action<string>? Output { get; set; }

    /// <summary>Null probes <c>docker info</c>; true or false forces the choice.</summary>
    public bool? UseContainerRuntime { get; set; }

    /// <summary>Time between SIGTERM and SIGKILL when stopping a process.</summary>
    public TimeSpan StopGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether disposing the application deletes <see cref="StateDirectory"/> (the testing builder's temporary one).</summary>
    public bool DeleteStateDirectoryOnDispose { get; set; }

    internal Assembly? AppHostAssembly { get; set; }
}

/// <summary>
/// Declares the application's resources. Call the <c>Add*</c> extensions, then <see cref="Build"/>.
/// Not thread-safe: build the model on one thread.
/// </summary>
public sealed class DistributedApplicationBuilder
{
    private static readonly AsyncLocal<Testing.TestingHook?> CurrentTestingHook = new();
    private readonly List<IResource> _resources = [];
    private Testing.TestingHook? _testingHook;

    internal DistributedApplicationBuilder(DistributedApplicationOptions options)
    {
        _testingHook = CurrentTestingHook.Value;
        _testingHook?.Configure(options);
        Options = options;
        // "dotnet run --project AppHost -- --publisher manifest" and the same without "--" both arrive here.
        var args = options.Args.Where(a => a != "--").ToArray();
        Configuration = new ConfigurationBuilder()
            .AddEnvironmentVariables()
            .AddCommandLine(args)
            .Build();
        var assembly = options.AppHostAssembly ?? Assembly.GetEntryAssembly();
        AppHostDirectory = Path.GetFullPath(options.AppHostDirectory
            ?? assembly?.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "AppHostProjectDirectory")?.Value
            ?? Environment.CurrentDirectory);
        StateDirectory = Path.GetFullPath(options.StateDirectory
            ?? Configuration["APPHOST_STATE_DIR"]
            ?? Path.Combine(AppHostDirectory, ".apphost"));
        options.Configuration ??= assembly?.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        Publisher = Configuration["publisher"];
        OutputPath = Configuration["output-path"];
    }

    public IConfiguration Configuration { get; }

    public string AppHostDirectory { get; }

    public string StateDirectory { get; }

    /// <summary><c>manifest</c> or <c>kubernetes</c> when the AppHost was started to publish rather than run.</summary>
    public string? Publisher { get; }

    public string? OutputPath { get; }

    public bool IsPublishMode => Publisher is not null;

    public IReadOnlyList<IResource> Resources => _resources;

    internal DistributedApplicationOptions Options { get; }

    /// <summary>Set by <see cref="DashboardExtensions.AddDashboard"/>.</summary>
    internal DashboardResource? Dashboard { get; set; }

    /// <summary>The AppHost's resource API, once started (run mode with a Dashboard).</summary>
    internal Uri? ResourceServiceUrl { get; set; }

    internal static Testing.TestingHook? TestingHook
    {
        get => CurrentTestingHook.Value;
        set => CurrentTestingHook.Value = value;
    }

    public IResourceBuilder<T> AddResource<T>(T resource) where T : IResource
    {
        ArgumentNullException.ThrowIfNull(resource);
        ResourceNames.Validate(resource.Name);
        if (_resources.Any(r => string.Equals(r.Name, resource.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' already exists.");
        }
        _resources.Add(resource);
        return new ResourceBuilder<T>(resource, this);
    }

    /// <summary>Resolves parameters (generating and persisting missing secrets) and returns the application.</summary>
    public DistributedApplication Build()
    {
        if (_testingHook is { } hook)
        {
            // Under DistributedApplicationTestingBuilder the AppHost's Program stops here and hands its model to the test.
            _testingHook = null;
            hook.Capture(this);
        }
        new ParameterStore(StateDirectory).ResolveAll(_resources.OfType<ParameterResource>(), Configuration);
        return new DistributedApplication(this);
    }
}

internal static partial class ResourceNames
{
    /// <summary>Aspire's rule: letters, digits and hyphens, starting with a letter, no double or trailing hyphen, at most 64 characters.</summary>
    public static void Validate(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !Rule().IsMatch(name) || name.Contains("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid resource name '{name}': use letters, digits and single hyphens, starting with a letter (at most 64 characters).", nameof(name));
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")]
    private static partial System.Text.RegularExpressions.Regex Rule();
}
