using System.Diagnostics;
using System.Globalization;

namespace Hosting.Orchestration;

/// <summary>The lifecycle states a resource goes through in run mode.</summary>
public enum ResourceState
{
    Waiting,
    Starting,
    Running,
    Healthy,
    Finished,
    Exited,
    FailedToStart,
    Stopping,
    Stopped,
}

/// <summary>One resource's state as the AppHost sees it.</summary>
public sealed record ResourceSnapshot(string Name, string Type, ResourceState State, IReadOnlyList<string> Urls, IReadOnlyList<int> ProcessIds, string? Error);

/// <summary>
/// Runs one resource: waits for its dependencies, starts its processes, polls its health gate, watches for
/// exits (reported, never restarted) and stops it. Subclasses say how to start and probe each kind.
/// </summary>
internal abstract class ResourceRun(IResource resource, RunContext context)
{
    private static readonly TimeSpan HealthPollInterval = TimeSpan.FromMilliseconds(100);

    private TaskCompletionSource _healthy = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private int _generation;

    public IResource Resource { get; } = resource;

    protected RunContext Context { get; } = context;

    public ResourceState State { get; private set; } = ResourceState.Waiting;

    public string? Error { get; private set; }

    public Task Healthy => _healthy.Task;

    public Task Completed => _completed.Task;

    protected List<ManagedProcess> Processes { get; } = [];

    public virtual string Type => Resource.GetType().Name.Replace("Resource", string.Empty, StringComparison.Ordinal);

    public virtual IReadOnlyList<string> Urls => Resource is Resource r
        ? r.Endpoints.SelectMany(e => e.AllocatedPorts.Select(p => $"{e.Scheme}://127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}")).ToList()
        : [];

    /// <summary>When the resource's processes were last started.</summary>
    public DateTimeOffset? StartedAt { get; private set; }

    /// <summary>Whether the Dashboard may stop and start it: processes the AppHost launches directly (not infrastructure).</summary>
    public virtual bool CanBeRestarted => false;

    public ResourceSnapshot Snapshot() => new(Resource.Name, Type, State, Urls, [.. Processes.Select(p => p.Id)], Error);

    /// <summary>
    /// Starts a stopped (or exited) resource again, in the background, with fresh health and completion gates.
    /// Dependents already started are not restarted.
    /// </summary>
    public void Restart()
    {
        if (!CanBeRestarted || State is ResourceState.Waiting or ResourceState.Starting or ResourceState.Running or ResourceState.Healthy or ResourceState.Stopping)
        {
            throw new InvalidOperationException($"'{Resource.Name}' is {State}: it can be started only once it has stopped.");
        }
        Interlocked.Increment(ref _generation);
        Processes.Clear();
        Error = null;
        _stopping = false;
        _healthy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _completed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(() => RunAsync(Context.Stopping));
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await WaitForDependenciesAsync(cancellationToken);
            SetState(ResourceState.Starting);
            await StartAsync(cancellationToken);
            StartedAt = DateTimeOffset.UtcNow;
            foreach (var process in Processes)
            {
                _ = WatchAsync(process);
            }
            SetState(ResourceState.Running);
            while (!await IsHealthyAsync(cancellationToken))
            {
                var exited = Processes.FirstOrDefault(p => p.HasExited);
                if (exited is not null)
                {
                    throw new InvalidOperationException($"exited with code {(await exited.Exited).ToString(CultureInfo.InvariantCulture)} before it was healthy");
                }
                await Task.Delay(HealthPollInterval, cancellationToken);
            }
            SetState(ResourceState.Healthy);
            _healthy.TrySetResult();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || _stopping)
        {
            _healthy.TrySetCanceled(cancellationToken);
            _completed.TrySetCanceled(cancellationToken);
        }
        catch (Exception ex)
        {
            Fail(ex.Message);
        }
    }

    /// <summary>Stops the processes. Subclasses with a better shutdown (PostgreSQL's pg_ctl) override it.</summary>
    public virtual async Task StopAsync()
    {
        MarkStopping();
        if (Processes.Count == 0 || Processes.All(p => p.HasExited))
        {
            SetState(State is ResourceState.Waiting or ResourceState.Starting ? ResourceState.Stopped : State);
            _healthy.TrySetCanceled();
            _completed.TrySetCanceled();
            return;
        }
        SetState(ResourceState.Stopping);
        await Task.WhenAll(Processes.Select(p => p.StopAsync(Context.Options.StopGracePeriod)));
        await Task.WhenAll(Processes.Select(p => p.DisposeAsync().AsTask()));
        SetState(ResourceState.Stopped);
        _healthy.TrySetCanceled();
        _completed.TrySetCanceled();
    }

    /// <summary>From here on exits are expected: they are not reported as failures.</summary>
    protected void MarkStopping() => _stopping = true;

    protected abstract Task StartAsync(CancellationToken cancellationToken);

    protected abstract Task<bool> IsHealthyAsync(CancellationToken cancellationToken);

    protected ManagedProcess Launch(ProcessLaunch launch, string? outputName = null)
    {
        var replica = outputName is not null && outputName != Resource.Name ? $"[{outputName}] " : string.Empty;
        var process = ManagedProcess.Start(launch, line =>
        {
            Context.Output.Write(outputName ?? Resource.Name, line);
            Context.Console.Append(Resource.Name, replica + line);
        });
        Processes.Add(process);
        Context.ProcessRecord.Add(Resource.Name, process.Id);
        return process;
    }

    /// <summary>The resource's environment, rendered with the run's values, on top of the AppHost's own.</summary>
    protected static Dictionary<string, string?> RenderEnvironment(Resource resource)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, value) in resource.Environment)
        {
            environment[name] = value.Render(ValueTarget.Run);
        }
        return environment;
    }

    protected void SetState(ResourceState state)
    {
        if (State == state)
        {
            return;
        }
        State = state;
        Context.Output.Write("apphost", $"{Resource.Name}: {state}{(Error is null ? string.Empty : " - " + Error)}");
        Context.StateChanged();
    }

    private void Fail(string error)
    {
        Error = error;
        SetState(ResourceState.FailedToStart);
        _healthy.TrySetException(new InvalidOperationException($"Resource '{Resource.Name}' failed: {error}"));
        _completed.TrySetException(new InvalidOperationException($"Resource '{Resource.Name}' failed: {error}"));
    }

    private async Task WaitForDependenciesAsync(CancellationToken cancellationToken)
    {
        if (Resource is not Resource runnable)
        {
            return;
        }
        foreach (var dependency in runnable.Waits)
        {
            var run = Context.RunOf(dependency.Resource);
            var gate = dependency.Behavior == WaitBehavior.Healthy ? run.Healthy : run.Completed;
            try
            {
                await gate.WaitAsync(cancellationToken);
            }
            catch (InvalidOperationException)
            {
                throw new InvalidOperationException($"dependency '{dependency.Resource.Name}' failed");
            }
        }
    }

    private async Task WatchAsync(ManagedProcess process)
    {
        var generation = Volatile.Read(ref _generation);
        var exitCode = await process.Exited;
        if (_stopping || generation != Volatile.Read(ref _generation))
        {
            return;
        }
        if (Processes.All(p => p.HasExited))
        {
            var codes = await Task.WhenAll(Processes.Select(p => p.Exited));
            if (codes.All(c => c == 0))
            {
                SetState(ResourceState.Finished);
                _completed.TrySetResult();
                _healthy.TrySetException(new InvalidOperationException($"Resource '{Resource.Name}' finished"));
                return;
            }
        }
        Error = $"process {process.Id.ToString(CultureInfo.InvariantCulture)} exited with code {exitCode.ToString(CultureInfo.InvariantCulture)}; not restarted";
        if (State == ResourceState.Healthy)
        {
            SetState(ResourceState.Exited);
        }
        _completed.TrySetException(new InvalidOperationException($"Resource '{Resource.Name}' {Error}"));
    }
}

/// <summary>A resource that runs no process of its own (a database inside its server): it mirrors its parent.</summary>
internal sealed class ChildRun(IResourceWithParent resource, RunContext context) : ResourceRun(resource, context)
{
    public override string Type => "Database";

    public override IReadOnlyList<string> Urls => [];

    protected override Task StartAsync(CancellationToken cancellationToken) =>
        Context.RunOf(resource.Parent).Healthy.WaitAsync(cancellationToken);

    protected override Task<bool> IsHealthyAsync(CancellationToken cancellationToken) => Task.FromResult(true);
}

/// <summary>A .NET project started as <c>dotnet &lt;project&gt;/bin/&lt;Configuration&gt;/net10.0/&lt;Project&gt;.dll</c>, one process per replica.</summary>
internal sealed class ProjectRun(ProjectResource project, RunContext context) : ResourceRun(project, context)
{
    public override string Type => "Project";

    public override bool CanBeRestarted => true;

    protected override Task StartAsync(CancellationToken cancellationToken)
    {
        var assembly = BuildOutput(project, Context.Options.Configuration ?? "Debug");
        var http = project.Endpoints.FirstOrDefault(e => e.Scheme == "http");
        for (var replica = 0; replica < project.Replicas; replica++)
        {
            var environment = RenderEnvironment(project);
            environment["DOTNET_ENVIRONMENT"] = "Development";
            environment["ASPNETCORE_ENVIRONMENT"] = "Development";
            environment["OTEL_SERVICE_NAME"] = project.Name;
            environment["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={project.Name}-{replica.ToString(CultureInfo.InvariantCulture)}";
            foreach (var (key, value) in Context.OtlpEnvironment)
            {
                // What the project declares itself wins over the AppHost-wide export settings.
                environment.TryAdd(key, value);
            }
            environment["HTTP_PORTS"] = null;
            if (http is not null)
            {
                environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{http.AllocatedPorts[replica].ToString(CultureInfo.InvariantCulture)}";
            }
            var name = project.Replicas > 1 ? $"{project.Name}-{replica.ToString(CultureInfo.InvariantCulture)}" : project.Name;
            Launch(new ProcessLaunch("dotnet", [assembly], environment, Path.GetDirectoryName(assembly)), name);
        }
        return Task.CompletedTask;
    }

    protected override async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        var http = project.Endpoints.FirstOrDefault(e => e.Scheme == "http");
        if (http is null)
        {
            return true;
        }
        foreach (var port in http.AllocatedPorts)
        {
            if (!await Probes.HttpOkAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/health"), cancellationToken))
            {
                return false;
            }
        }
        return true;
    }

    internal static string BuildOutput(ProjectResource project, string configuration)
    {
        var directory = Path.GetDirectoryName(project.ProjectPath)!;
        var assembly = Path.Combine(directory, "bin", configuration, "net10.0", project.AssemblyName + ".dll");
        return File.Exists(assembly)
            ? assembly
            : throw new PrerequisiteMissingException($"{project.AssemblyName} is not built at {assembly}. Build it with: dotnet build {project.ProjectPath} -c {configuration}");
    }
}

/// <summary>A program started directly, healthy once its endpoints accept connections (or at once without endpoints).</summary>
internal sealed class ExecutableRun(ExecutableResource executable, RunContext context) : ResourceRun(executable, context)
{
    public override string Type => "Executable";

    public override bool CanBeRestarted => true;

    protected override Task StartAsync(CancellationToken cancellationToken)
    {
        var path = Prerequisites.Find(executable.Command)
            ?? throw Prerequisites.Missing($"'{executable.Command}' was not found on PATH", executable.InstallCommand ?? $"apt-get install -y {Path.GetFileName(executable.Command)}");
        for (var replica = 0; replica < executable.Replicas; replica++)
        {
            var environment = RenderEnvironment(executable);
            foreach (var endpoint in executable.Endpoints.Where(e => e.EnvironmentVariable is not null))
            {
                environment[endpoint.EnvironmentVariable!] = endpoint.AllocatedPorts[replica].ToString(CultureInfo.InvariantCulture);
            }
            Launch(new ProcessLaunch(path, executable.Args.Select(a => a.Render(ValueTarget.Run)).ToList(), environment, executable.WorkingDirectory));
        }
        return Task.CompletedTask;
    }

    protected override async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        foreach (var port in executable.Endpoints.SelectMany(e => e.AllocatedPorts))
        {
            if (!await Probes.TcpAsync(port, cancellationToken))
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>A container started with <c>docker run</c>; only when a container runtime works.</summary>
internal class ContainerRun(ContainerResource container, RunContext context) : ResourceRun(container, context)
{
    private readonly string _containerName = $"apphost-{container.Name}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

    public override string Type => "Container";

    protected ContainerResource Container { get; } = container;

    private bool _inContainer;

    protected override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!await Context.ContainerRuntimeWorks)
        {
            throw Prerequisites.Missing($"'{Container.Name}' needs a container runtime and 'docker info' failed", "apt-get install -y docker.io (and start the Docker daemon)");
        }
        StartContainer(RenderEnvironment(Container), Container.Args.Select(a => a.Render(ValueTarget.Run)).ToList(), []);
    }

    protected void StartContainer(Dictionary<string, string?> environment, IReadOnlyList<string> command, IReadOnlyList<(string Source, string Target)> mounts)
    {
        _inContainer = true;
        var arguments = new List<string> { "run", "--rm", "--name", _containerName };
        foreach (var endpoint in Container.Endpoints)
        {
            arguments.AddRange(["-p", $"127.0.0.1:{endpoint.AllocatedPort.ToString(CultureInfo.InvariantCulture)}:{(endpoint.TargetPort ?? endpoint.AllocatedPort).ToString(CultureInfo.InvariantCulture)}"]);
        }
        foreach (var (name, value) in environment)
        {
            arguments.AddRange(["-e", $"{name}={value}"]);
        }
        foreach (var (source, target) in mounts)
        {
            Directory.CreateDirectory(source);
            arguments.AddRange(["-v", $"{source}:{target}"]);
        }
        arguments.Add($"{Container.Image}:{Container.Tag}");
        arguments.AddRange(command);
        Launch(new ProcessLaunch("docker", arguments, new Dictionary<string, string?>()));
    }

    protected override async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        foreach (var endpoint in Container.Endpoints)
        {
            if (!await Probes.TcpAsync(endpoint.AllocatedPort, cancellationToken))
            {
                return false;
            }
        }
        return true;
    }

    public override async Task StopAsync()
    {
        MarkStopping();
        if (_inContainer && Processes.Count > 0 && !Processes.All(p => p.HasExited))
        {
            try
            {
                await ManagedProcess.RunToCompletionAsync(ProcessLaunch.Command("docker", "stop", "-t", "5", _containerName), TimeSpan.FromSeconds(20));
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                Context.Output.Write("apphost", $"{Container.Name}: docker stop failed ({ex.Message}); killing the client");
            }
        }
        await base.StopAsync();
    }
}

internal static class Stopwatches
{
    public static string Seconds(this Stopwatch clock) => clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}
