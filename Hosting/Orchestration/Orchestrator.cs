using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Hosting.Orchestration;

/// <summary>The last lines of each resource's output. Thread-safe.</summary>
internal sealed class ConsoleLog
{
    private const int LinesPerResource = 2000;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Queue<string>> _lines = new(StringComparer.Ordinal);

    public void Append(string resource, string line)
    {
        lock (_gate)
        {
            if (!_lines.TryGetValue(resource, out var lines))
            {
                _lines[resource] = lines = new Queue<string>();
            }
            if (lines.Count == LinesPerResource)
            {
                lines.Dequeue();
            }
            lines.Enqueue(line);
        }
    }

    public IReadOnlyList<string> Lines(string resource)
    {
        lock (_gate)
        {
            return _lines.TryGetValue(resource, out var lines) ? [.. lines] : [];
        }
    }
}

/// <summary>Streams every resource's output with its name as prefix.</summary>
internal sealed class OutputSink(Action<string> write)
{
    private readonly Lock _gate = new();

    public void Write(string source, string line)
    {
        lock (_gate)
        {
            write($"{source,-18}| {line}");
        }
    }
}

/// <summary>What every run shares: options, state directory, output, the other runs.</summary>
internal sealed class RunContext(DistributedApplicationOptions options, string stateDirectory, OutputSink output, ProcessRecord processRecord, Func<IReadOnlyDictionary<string, string>>? otlpEnvironment = null)
{
    private readonly Lazy<IReadOnlyDictionary<string, string>> _otlpEnvironment = new(otlpEnvironment ?? (() => new Dictionary<string, string>()));

    private readonly Lazy<Task<bool>> _containerRuntime = new(() => options.UseContainerRuntime is { } forced ? Task.FromResult(forced) : ContainerRuntime.WorksAsync());

    public DistributedApplicationOptions Options { get; } = options;

    public string StateDirectory { get; } = stateDirectory;

    public OutputSink Output { get; } = output;

    public ProcessRecord ProcessRecord { get; } = processRecord;

    /// <summary>What every project gets to export its telemetry (<see cref="OtlpExport"/>); empty when none is configured.</summary>
    /// <remarks>Computed on first use, after ports are allocated: the Dashboard's endpoint is one of them.</remarks>
    public IReadOnlyDictionary<string, string> OtlpEnvironment => _otlpEnvironment.Value;

    /// <summary>The recent output of every resource, for the Dashboard's console view.</summary>
    public ConsoleLog Console { get; } = new();

    /// <summary>Cancelled when the whole application stops; restarted resources run until then.</summary>
    public CancellationToken Stopping { get; set; }

    public Task<bool> ContainerRuntimeWorks => _containerRuntime.Value;

    public Dictionary<IResource, ResourceRun> Runs { get; } = [];

    public event Action? Changed;

    public ResourceRun RunOf(IResource resource) =>
        Runs.TryGetValue(resource, out var run) ? run : throw new InvalidOperationException($"Resource '{resource.Name}' is not part of this application.");

    public void StateChanged() => Changed?.Invoke();
}

/// <summary>
/// Pids of the processes this AppHost started, in the state directory, so the next run can end what a killed
/// AppHost left behind (only processes whose command line still matches).
/// </summary>
internal sealed class ProcessRecord(string path)
{
    private readonly Lock _gate = new();

    public void Add(string resource, int pid)
    {
        var commandLine = CommandLine(pid);
        lock (_gate)
        {
            File.AppendAllText(path, $"{pid.ToString(CultureInfo.InvariantCulture)}\t{resource}\t{commandLine}\n");
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            File.Delete(path);
        }
    }

    public void ReapLeftovers(OutputSink output)
    {
        if (!File.Exists(path))
        {
            return;
        }
        foreach (var line in File.ReadAllLines(path))
        {
            var fields = line.Split('\t', 3);
            if (fields.Length == 3 && int.TryParse(fields[0], CultureInfo.InvariantCulture, out var pid) && fields[2].Length > 0 && CommandLine(pid) == fields[2])
            {
                output.Write("apphost", $"ending {fields[1]} (pid {fields[0]}) left behind by an earlier run");
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                {
                }
            }
        }
        File.Delete(path);
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
        catch (UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}

/// <summary>Run mode: allocates ports, starts every resource in dependency order behind its health gates, stops them all.</summary>
internal sealed class Orchestrator(IReadOnlyList<IResource> resources, RunContext context) : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private List<Task> _tasks = [];

    public RunContext Context => context;

    public IEnumerable<ResourceRun> Runs => context.Runs.Values;

    public void Start()
    {
        context.ProcessRecord.ReapLeftovers(context.Output);
        context.Stopping = _stopping.Token;
        AllocatePorts();
        foreach (var resource in resources)
        {
            ResourceRun? run = resource switch
            {
                ProjectResource project => new ProjectRun(project, context),
                ExecutableResource executable => new ExecutableRun(executable, context),
                ValkeyResource valkey => new ValkeyRun(valkey, context),
                PostgresServerResource postgres => new PostgresRun(postgres, context),
                SmtpServerResource smtp => new SmtpRun(smtp, context),
                ContainerResource container => new ContainerRun(container, context),
                IResourceWithParent child => new ChildRun(child, context),
                _ => null, // parameters: values, not processes
            };
            if (run is not null)
            {
                context.Runs[resource] = run;
            }
        }
        _tasks = context.Runs.Values.Select(run => Task.Run(() => run.RunAsync(_stopping.Token))).ToList();
    }

    /// <summary>Completes when every resource is healthy or has failed; returns whether all are healthy.</summary>
    public async Task<bool> WaitUntilSettledAsync(CancellationToken cancellationToken)
    {
        foreach (var run in context.Runs.Values)
        {
            try
            {
                await run.Healthy.WaitAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is InvalidOperationException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
            }
        }
        return context.Runs.Values.All(r => r.Healthy.IsCompletedSuccessfully);
    }

    public string Table()
    {
        var rows = context.Runs.Values.Select(r => r.Snapshot()).ToList();
        var nameWidth = Math.Max(8, rows.Max(r => r.Name.Length));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"Resource".PadRight(nameWidth)}  {"Type",-11}  {"State",-13}  URLs");
        foreach (var row in rows)
        {
            var detail = row.Error is null ? string.Join(", ", row.Urls) : row.Error;
            text.AppendLine(CultureInfo.InvariantCulture, $"{row.Name.PadRight(nameWidth)}  {row.Type,-11}  {row.State,-13}  {detail}");
        }
        return text.ToString();
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Stops dependents before what they depend on; each wave in parallel.</summary>
    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        var remaining = context.Runs.Values.ToHashSet();
        while (remaining.Count > 0)
        {
            var wave = remaining.Where(run => !remaining.Any(other => other != run && DependsOn(other.Resource, run.Resource))).ToList();
            if (wave.Count == 0)
            {
                wave = remaining.ToList();
            }
            await Task.WhenAll(wave.Select(run => run.StopAsync()));
            remaining.ExceptWith(wave);
        }
        await Task.WhenAll(_tasks).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        context.ProcessRecord.Clear();
    }

    public void Dispose() => _stopping.Dispose();

    private static bool DependsOn(IResource dependent, IResource dependency)
    {
        if (dependent is IResourceWithParent child)
        {
            return child.Parent == dependency;
        }
        return dependent is Resource resource
            && resource.Waits.Select(w => w.Resource).Concat(resource.References)
                .Any(r => r == dependency || (r is IResourceWithParent p && p.Parent == dependency));
    }

    private void AllocatePorts()
    {
        var taken = new HashSet<int>();
        foreach (var resource in resources.OfType<Resource>())
        {
            foreach (var endpoint in resource.Endpoints)
            {
                endpoint.AllocatedPorts.Clear();
                var count = endpoint.Port is null ? resource.Replicas : 1;
                for (var i = 0; i < count; i++)
                {
                    endpoint.AllocatedPorts.Add(endpoint.Port ?? FreePort(taken));
                }
            }
        }
    }

    private static int FreePort(HashSet<int> taken)
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (taken.Add(port))
            {
                return port;
            }
        }
    }
}
