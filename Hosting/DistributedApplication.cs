using System.Globalization;
using System.Runtime.InteropServices;
using Hosting.Orchestration;
using Hosting.Publishing;

namespace Hosting;

/// <summary>
/// The built application: <see cref="RunAsync"/> publishes (with <c>--publisher</c>) or runs every resource
/// until Ctrl+C or SIGTERM. Tests use <see cref="StartAsync"/>, the wait methods and <see cref="DisposeAsync"/>.
/// </summary>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly DistributedApplicationBuilder _builder;
    private readonly Orchestrator _orchestrator;
    private ResourceService? _resourceService;
    private int _stopped;

    internal DistributedApplication(DistributedApplicationBuilder builder)
    {
        _builder = builder;
        var output = new OutputSink(builder.Options.Output ?? Console.WriteLine);
        Directory.CreateDirectory(builder.StateDirectory);
        var dashboard = builder.Dashboard;
        var context = new RunContext(builder.Options, builder.StateDirectory, output, new ProcessRecord(Path.Combine(builder.StateDirectory, "processes.tsv")),
            () => OtlpExport.Environment(builder.Configuration, dashboard?.Url, dashboard?.OtlpApiKey.Render(ValueTarget.Run)));
        if (dashboard is not null)
        {
            // The Dashboard starts first, as Aspire's does: every other project waits for it, so none exports into the void.
            foreach (var project in builder.Resources.OfType<ProjectResource>().Where(p => p != dashboard.Project && p.Waits.All(w => w.Resource != dashboard.Project)))
            {
                project.Waits.Add(new WaitDependency(dashboard.Project, WaitBehavior.Healthy));
            }
        }
        _orchestrator = new Orchestrator(builder.Resources, context);
    }

    public static DistributedApplicationBuilder CreateBuilder(string[] args) => new(new DistributedApplicationOptions { Args = args });

    public static DistributedApplicationBuilder CreateBuilder(DistributedApplicationOptions options) => new(options);

    public IReadOnlyList<IResource> Resources => _builder.Resources;

    /// <summary>Publishes and returns, or runs until Ctrl+C/SIGTERM (or <paramref name="cancellationToken"/>) and stops everything.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (_builder.IsPublishMode)
        {
            Publish();
            return;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        void OnSignal(PosixSignalContext signal)
        {
            signal.Cancel = true;
            stop.Cancel();
        }

        await StartAsync(stop.Token);
        try
        {
            var allHealthy = await _orchestrator.WaitUntilSettledAsync(stop.Token);
            var output = _orchestrator.Context.Output;
            foreach (var line in _orchestrator.Table().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                output.Write("apphost", line);
            }
            if (_builder.Dashboard is { } dashboard)
            {
                output.Write("apphost", $"Dashboard: {dashboard.LoginUrl}");
            }
            var count = _orchestrator.Runs.Count();
            output.Write("apphost", allHealthy
                ? $"All {count.ToString(CultureInfo.InvariantCulture)} resources healthy in {SinceProcessStart()} s (state: {_builder.StateDirectory}). Ctrl+C stops everything."
                : $"Some resources failed to start (see above); the others keep running. Ctrl+C stops everything.");
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        _orchestrator.Context.Output.Write("apphost", "stopping all resources");
        await StopAsync();
        _orchestrator.Context.Output.Write("apphost", "stopped");
    }

    /// <summary>
    /// Starts every resource in the background; dependencies gate each one. Returns once they are launched (with a
    /// Dashboard, after the AppHost's resource API is listening); prints the Dashboard's login URL when it is healthy.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_builder.Dashboard is { } dashboard)
        {
            _resourceService = new ResourceService(_orchestrator.Context, dashboard.ResourceApiKey.Render(ValueTarget.Run));
            await _resourceService.StartAsync(cancellationToken);
            _builder.ResourceServiceUrl = _resourceService.Url;
        }
        _orchestrator.Start();
        if (_builder.Dashboard is { } started)
        {
            _ = AnnounceDashboardAsync(started);
        }
    }

    /// <summary>The Dashboard's login URL (with its token), or null without a Dashboard.</summary>
    public string? DashboardLoginUrl => _builder.Dashboard?.LoginUrl;

    private async Task AnnounceDashboardAsync(DashboardResource dashboard)
    {
        try
        {
            await _orchestrator.Context.RunOf(dashboard.Project).Healthy;
            _orchestrator.Context.Output.Write("apphost", $"Dashboard: {dashboard.LoginUrl}");
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            // Its failure is reported with its state.
        }
    }

    /// <summary>Waits until the resource is healthy; throws if it (or a dependency) fails.</summary>
    public Task WaitForResourceHealthyAsync(string name, CancellationToken cancellationToken = default) =>
        RunOf(name).Healthy.WaitAsync(cancellationToken);

    /// <summary>Waits until every resource is healthy; throws with the table of states if any fails.</summary>
    public async Task WaitForAllHealthyAsync(CancellationToken cancellationToken = default)
    {
        if (!await _orchestrator.WaitUntilSettledAsync(cancellationToken))
        {
            throw new InvalidOperationException("Not every resource became healthy:\n" + _orchestrator.Table());
        }
    }

    public IReadOnlyList<ResourceSnapshot> GetResourceStates() => _orchestrator.Runs.Select(r => r.Snapshot()).ToList();

    public string ResourceTable() => _orchestrator.Table();

    /// <summary>An HttpClient whose base address is the resource's endpoint (replica 0).</summary>
    public HttpClient CreateHttpClient(string resourceName, string endpointName = "http") =>
        new() { BaseAddress = new Uri(FindResource<Resource>(resourceName).GetEndpoint(endpointName).Render(ValueTarget.Run)) };

    /// <summary>The connection string the resource's references receive in run mode.</summary>
    public ValueTask<string> GetConnectionStringAsync(string resourceName) =>
        ValueTask.FromResult(FindResource<IResourceWithConnectionString>(resourceName).ConnectionStringExpression.Render(ValueTarget.Run));

    /// <summary>Stops every resource, dependents first: SIGTERM, then SIGKILL after the grace period.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _orchestrator.StopAsync();
            if (_resourceService is not null)
            {
                await _resourceService.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_orchestrator.Runs.Any())
        {
            await StopAsync();
        }
        if (_builder.Options.DeleteStateDirectoryOnDispose && Directory.Exists(_builder.StateDirectory))
        {
            Directory.Delete(_builder.StateDirectory, recursive: true);
        }
        _orchestrator.Dispose();
    }

    internal void Publish()
    {
        var output = _builder.OutputPath ?? throw new InvalidOperationException("--output-path is required with --publisher.");
        var path = Path.GetFullPath(output, Environment.CurrentDirectory);
        switch (_builder.Publisher)
        {
            case "manifest":
                ManifestPublisher.Write(_builder.Resources, path);
                break;
            case "kubernetes":
                KubernetesPublisher.Write(_builder.Resources, path);
                break;
            default:
                throw new InvalidOperationException($"Unknown publisher '{_builder.Publisher}': use 'manifest' or 'kubernetes'.");
        }
        (_builder.Options.Output ?? Console.WriteLine)($"Published {_builder.Publisher} to: {path}");
    }

    private T FindResource<T>(string name) where T : class, IResource =>
        _builder.Resources.FirstOrDefault(r => r.Name == name) as T
        ?? throw new InvalidOperationException($"No resource named '{name}' of type {typeof(T).Name}.");

    private ResourceRun RunOf(string name) =>
        _orchestrator.Context.RunOf(FindResource<IResource>(name));

    private static string SinceProcessStart()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return (DateTime.Now - self.StartTime).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
    }
}
