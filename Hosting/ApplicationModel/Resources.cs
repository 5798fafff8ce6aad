using System.Globalization;

namespace Hosting;

/// <summary>Anything the application model declares: a project, a container, a parameter, a database.</summary>
public interface IResource
{
    string Name { get; }
}

/// <summary>A resource others can reference by connection string (<c>ConnectionStrings__&lt;name&gt;</c>).</summary>
public interface IResourceWithConnectionString : IResource
{
    ReferenceExpression ConnectionStringExpression { get; }
}

/// <summary>A resource that lives inside another (a database inside its server): it is healthy when its parent is.</summary>
public interface IResourceWithParent : IResource
{
    IResource Parent { get; }
}

/// <summary>A resource handle returned by the <c>Add*</c> methods; the <c>With*</c> extensions chain on it.</summary>
public interface IResourceBuilder<out T> where T : IResource
{
    T Resource { get; }

    DistributedApplicationBuilder ApplicationBuilder { get; }
}

internal sealed class ResourceBuilder<T>(T resource, DistributedApplicationBuilder builder) : IResourceBuilder<T> where T : IResource
{
    public T Resource { get; } = resource;

    public DistributedApplicationBuilder ApplicationBuilder { get; } = builder;
}

/// <summary>How a resource waits for another before it starts.</summary>
public enum WaitBehavior
{
    /// <summary>Until the dependency is healthy (<c>WaitFor</c>).</summary>
    Healthy,

    /// <summary>Until the dependency has exited with code 0 (<c>WaitForCompletion</c>).</summary>
    Completed,
}

public sealed record WaitDependency(IResource Resource, WaitBehavior Behavior);

/// <summary>
/// The common shape of every runnable resource: endpoints, environment, arguments, waits and replicas.
/// Not thread-safe: the model is built on one thread, then read by the orchestrator and the publishers.
/// </summary>
public abstract class Resource(string name) : IResource
{
    private readonly List<KeyValuePair<string, IValueExpression>> _environment = [];

    public string Name { get; } = name;

    public IList<Endpoint> Endpoints { get; } = [];

    public IReadOnlyList<KeyValuePair<string, IValueExpression>> Environment => _environment;

    public IList<IValueExpression> Args { get; } = [];

    public IList<WaitDependency> Waits { get; } = [];

    /// <summary>Resources referenced with <c>WithReference</c>, in order.</summary>
    public IList<IResource> References { get; } = [];

    public int Replicas { get; internal set; } = 1;

    /// <summary>The endpoint named <paramref name="endpointName"/>, for building URLs and host/port values.</summary>
    public EndpointReference GetEndpoint(string endpointName = "http") =>
        new(this, Endpoints.FirstOrDefault(e => e.Name == endpointName)
            ?? throw new InvalidOperationException($"Resource '{Name}' has no endpoint named '{endpointName}'."));

    internal void SetEnvironment(string name, IValueExpression value)
    {
        _environment.RemoveAll(e => e.Key == name);
        _environment.Add(new(name, value));
    }
}

/// <summary>A .NET project, started from its build output in run mode (<c>project.v0</c> in the manifest).</summary>
public sealed class ProjectResource(string name, string projectPath) : Resource(name)
{
    /// <summary>Published to Kubernetes as a Job (runs to completion, restarted on failure) instead of a Deployment.</summary>
    public bool PublishAsJob { get; internal set; }

    /// <summary>Absolute path of the <c>.csproj</c>.</summary>
    public string ProjectPath { get; } = Path.GetFullPath(projectPath);

    public string AssemblyName => Path.GetFileNameWithoutExtension(ProjectPath);
}

/// <summary>A program on PATH (or a path), started as a process in run mode.</summary>
public sealed class ExecutableResource(string name, string command, string workingDirectory) : Resource(name)
{
    public string Command { get; } = command;

    public string WorkingDirectory { get; } = workingDirectory;

    /// <summary>The command that installs <see cref="Command"/>, shown when it is missing.</summary>
    public string? InstallCommand { get; internal set; }
}

/// <summary>A container image; run with a container runtime when one works (<c>container.v0</c> in the manifest).</summary>
public class ContainerResource(string name, string image, string tag) : Resource(name)
{
    public string Image { get; } = image;

    public string Tag { get; } = tag;

    public IList<ContainerVolume> Volumes { get; } = [];
}

public sealed record ContainerVolume(string Name, string Target);

/// <summary>Metadata of a project generated at build time (the AppHost's <c>Projects.*</c> classes).</summary>
public interface IProjectMetadata
{
    string ProjectPath { get; }
}

/// <summary>A network endpoint of a resource. In run mode every replica gets a free port unless <see cref="Port"/> fixes one.</summary>
public sealed class Endpoint(string name, string scheme, int? targetPort)
{
    public string Name { get; } = name;

    public string Scheme { get; } = scheme;

    /// <summary>The port the service listens on inside a container or pod.</summary>
    public int? TargetPort { get; internal set; } = targetPort;

    /// <summary>A fixed host port for run mode; null takes a free one.</summary>
    public int? Port { get; internal set; }

    /// <summary>Reachable from outside the deployment (published as <c>external</c>).</summary>
    public bool IsExternal { get; internal set; }

    /// <summary>When set, the allocated port is passed to the process in this variable.</summary>
    public string? EnvironmentVariable { get; internal set; }

    internal List<int> AllocatedPorts { get; } = [];

    internal int AllocatedPort => AllocatedPorts.Count > 0
        ? AllocatedPorts[0]
        : throw new InvalidOperationException($"Endpoint '{Name}' has no port yet: values are available once the application has started.");
}

public enum EndpointProperty
{
    Url,
    Host,
    Port,
    TargetPort,
}

/// <summary>A reference to one endpoint of a resource; its properties render per <see cref="ValueTarget"/>.</summary>
public sealed class EndpointReference(Resource resource, Endpoint endpoint) : IValueExpression
{
    public Resource Resource { get; } = resource;

    public Endpoint Endpoint { get; } = endpoint;

    public bool IsSecret => false;

    public IValueExpression Property(EndpointProperty property) => new EndpointPropertyExpression(this, property);

    /// <summary>The URL (<c>scheme://host:port</c>).</summary>
    public string Render(ValueTarget target) => Property(EndpointProperty.Url).Render(target);

    internal int KubernetesPort => Endpoint.TargetPort ?? 80;
}

internal sealed class EndpointPropertyExpression(EndpointReference reference, EndpointProperty property) : IValueExpression
{
    public bool IsSecret => false;

    public string Render(ValueTarget target)
    {
        var endpoint = reference.Endpoint;
        var name = reference.Resource.Name;
        return (target, property) switch
        {
            (ValueTarget.Manifest, EndpointProperty.Url) => $"{{{name}.bindings.{endpoint.Name}.url}}",
            (ValueTarget.Manifest, EndpointProperty.Host) => $"{{{name}.bindings.{endpoint.Name}.host}}",
            (ValueTarget.Manifest, EndpointProperty.Port) => $"{{{name}.bindings.{endpoint.Name}.port}}",
            (ValueTarget.Manifest, EndpointProperty.TargetPort) => $"{{{name}.bindings.{endpoint.Name}.targetPort}}",
            (ValueTarget.Kubernetes, EndpointProperty.Url) => $"{endpoint.Scheme}://{name}:{Invariant(reference.KubernetesPort)}",
            (ValueTarget.Kubernetes, EndpointProperty.Host) => name,
            (ValueTarget.Kubernetes, EndpointProperty.Port or EndpointProperty.TargetPort) => Invariant(reference.KubernetesPort),
            (_, EndpointProperty.Url) => $"{endpoint.Scheme}://127.0.0.1:{Invariant(endpoint.AllocatedPort)}",
            (_, EndpointProperty.Host) => "127.0.0.1",
            (_, EndpointProperty.Port) => Invariant(endpoint.AllocatedPort),
            (_, EndpointProperty.TargetPort) => Invariant(endpoint.TargetPort ?? endpoint.AllocatedPort),
            _ => throw new ArgumentOutOfRangeException(nameof(target)),
        };
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Renders as <c>{name.connectionString}</c> in the manifest and as the connection string elsewhere.</summary>
internal sealed class ConnectionStringReference(IResourceWithConnectionString resource) : IValueExpression
{
    public bool IsSecret => resource.ConnectionStringExpression.IsSecret;

    public string Render(ValueTarget target) => target == ValueTarget.Manifest
        ? $"{{{resource.Name}.connectionString}}"
        : resource.ConnectionStringExpression.Render(target);
}
