using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Queue;

namespace Hosting.Infrastructure;

/// <summary>
/// One Valkey user (<see cref="ValkeyAcl"/>) with a password of its own: its connection string is the server's address
/// with that user, so a project referencing it gets exactly that user's rights (<c>ConnectionStrings__valkey</c>).
/// </summary>
public sealed class ValkeyUserResource(string name, string user, ParameterResource password, IResourceWithConnectionString server)
    : Resource(name), IResourceWithParent<IResourceWithConnectionString>, IResourceWithConnectionString
{
    /// <summary>The user's name in Valkey's ACL.</summary>
    public string User { get; } = user;

    public ParameterResource PasswordParameter { get; } = password;

    public IResourceWithConnectionString Parent { get; } = server;

    /// <summary><c>host:port,user=...,password=...</c> (every node of a cluster), the form StackExchange.Redis (and Aspire's Redis client) reads.</summary>
    public ReferenceExpression ConnectionStringExpression => Parent is ValkeyClusterResource cluster
        ? ReferenceExpression.Create($"{cluster.Addresses},user={User},password={PasswordParameter}")
        : ReferenceExpression.Create($"{((IResourceWithEndpoints)Parent).GetEndpoint("tcp").Property(EndpointProperty.HostAndPort)},user={User},password={PasswordParameter}");
}

/// <summary>How the job queue uses this Valkey: its shards per queue and the replicas a write waits for.</summary>
public sealed record ValkeyTopologyAnnotation(int Shards, int WaitForReplicas) : IResourceAnnotation;

/// <summary>Publish this Valkey container as a cluster of <paramref name="Masters"/> masters with <paramref name="ReplicasPerMaster"/> replicas each.</summary>
public sealed record ValkeyClusterAnnotation(int Masters, int ReplicasPerMaster) : IResourceAnnotation;

/// <summary>The users declared on one Valkey server, for its ACL file.</summary>
internal sealed class ValkeyUsersAnnotation : IResourceAnnotation
{
    public List<ValkeyUserResource> Users { get; } = [];
}

/// <summary>Valkey run by this machine's <c>valkey-server</c> (or <c>redis-server</c>, same protocol) when containers cannot run.</summary>
public sealed class ValkeyExecutableResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public ParameterResource PasswordParameter { get; } = password;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, EndpointName);

    /// <summary><c>host:port,user=admin,password=...</c>: the administrator, for health checks and administration only.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},user={ValkeyAcl.Admin},password={PasswordParameter}");
}

/// <summary>
/// <c>AddValkey</c>: the shared Valkey, an append-only file fsynced every second, <c>maxmemory</c> with <c>noeviction</c>
/// (full, it refuses writes instead of dropping jobs), and a user per role (<see cref="AddValkeyUser"/>, an ACL file of
/// <see cref="ValkeyAcl"/>; the default user off; <c>admin</c>, whose password is <c>valkey-password</c>, for health
/// checks and administration). A <c>valkey/valkey</c> container (Aspire's Redis integration) when published or when a
/// container runtime works; otherwise the local server binary with its data in the AppHost's state directory.
/// </summary>
public static class ValkeyBuilderExtensions
{
    internal const string Image = "valkey/valkey";
    internal const string Tag = "8.1";

    /// <summary>
    /// <c>appendfsync</c>: <c>everysec</c> loses at most the last second of acknowledged writes on a power loss (a crash of
    /// the server process alone loses nothing); <c>always</c> loses none but fsyncs every write.
    /// </summary>
    internal const string AppendFsync = "everysec";

    /// <summary>The memory Valkey may use for data before it refuses writes (<c>AppHost:Valkey:MaxMemory</c>).</summary>
    internal const string DefaultMaxMemory = "1gb";

    /// <summary>
    /// A Valkey user of <paramref name="valkey"/> named <paramref name="user"/> (<see cref="ValkeyAcl"/>: <c>workers</c>,
    /// <c>scheduler</c>, <c>operator</c> or <c>web-&lt;tenant&gt;</c>) with a generated password
    /// (<c>valkey-password-&lt;user&gt;</c>). Reference it as the project's <c>valkey</c> connection.
    /// </summary>
    public static IResourceBuilder<ValkeyUserResource> AddValkeyUser(this IResourceBuilder<IResourceWithConnectionString> valkey, string user)
    {
        ArgumentNullException.ThrowIfNull(valkey);
        ValkeyAcl.Rules(user);
        if (!valkey.Resource.TryGetLastAnnotation<ValkeyUsersAnnotation>(out var users))
        {
            throw new InvalidOperationException($"{valkey.Resource.Name} was not added with AddValkey.");
        }
        var builder = valkey.ApplicationBuilder;
        var password = builder.AddParameter($"{valkey.Resource.Name}-password-{user}", new GenerateParameterDefault { MinLength = 22, Special = false }, secret: true, persist: true);
        var resource = new ValkeyUserResource($"{valkey.Resource.Name}-{user}", user, password.Resource, valkey.Resource);
        users.Users.Add(resource);
        return builder.AddResource(resource)
            .WithInitialState(new CustomResourceSnapshot { ResourceType = "ValkeyUser", Properties = [], IsHidden = true })
            .ExcludeFromManifest();
    }

    /// <summary>The ACL file of <paramref name="server"/>'s users, <c>admin</c> with <paramref name="adminPassword"/> first.</summary>
    internal static async Task<string> AclFileAsync(IResource server, string adminPassword, CancellationToken cancellationToken)
    {
        var users = new List<(string, string)> { (ValkeyAcl.Admin, adminPassword) };
        if (server.TryGetLastAnnotation<ValkeyUsersAnnotation>(out var declared))
        {
            foreach (var user in declared.Users)
            {
                users.Add((user.User, await user.PasswordParameter.GetValueAsync(cancellationToken)
                    ?? throw new InvalidOperationException($"{user.PasswordParameter.Name} has no value.")));
            }
        }
        return ValkeyAcl.File(users);
    }

    /// <summary>
    /// Gives <paramref name="project"/> its own Valkey user of <paramref name="valkey"/> as its <c>valkey</c> connection,
    /// waits for Valkey, and tells it the queue's shards and replica waits (<c>QUEUE_SHARDS</c>,
    /// <c>QUEUE_WAIT_FOR_REPLICAS</c>) when they differ from the defaults.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithValkeyUser(this IResourceBuilder<ProjectResource> project, IResourceBuilder<IResourceWithConnectionString> valkey, string user)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(valkey);
        project.WithReference(valkey.AddValkeyUser(user), ValkeyConnection.ConnectionName).WaitFor(valkey);
        var topology = Topology(valkey.Resource);
        if (topology.Shards != JobQueueDefaults.Shards)
        {
            project.WithEnvironment("QUEUE_SHARDS", topology.Shards.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (topology.WaitForReplicas != JobQueueDefaults.WaitForReplicas)
        {
            project.WithEnvironment("QUEUE_WAIT_FOR_REPLICAS", topology.WaitForReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return project;
    }

    /// <summary>The queue's shards and replica waits for a Valkey added with <see cref="AddValkey"/> (or one of its users).</summary>
    public static ValkeyTopologyAnnotation Topology(IResource valkey) =>
        (valkey is IResourceWithParent child ? child.Parent : valkey).TryGetLastAnnotation<ValkeyTopologyAnnotation>(out var topology)
            ? topology
            : new ValkeyTopologyAnnotation(JobQueueDefaults.Shards, JobQueueDefaults.WaitForReplicas);

    public static IResourceBuilder<IResourceWithConnectionString> AddValkey(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var masters = builder.Configuration.GetValue("AppHost:Valkey:Masters", 1);
        var replicas = builder.Configuration.GetValue("AppHost:Valkey:Replicas", 0);
        if (masters < 1 || replicas < 0)
        {
            throw new DistributedApplicationException($"AppHost:Valkey:Masters must be at least 1 and AppHost:Valkey:Replicas at least 0 (got {masters} and {replicas}).");
        }
        // A shard per master by default: the shards' tags spread over equal slot ranges, one per master. Writes wait for a
        // replica where there are replicas; not in run mode with containers, where Valkey stays one local node.
        var containers = ContainerRuntime.UseContainers(builder);
        var oneLocalNode = builder.ExecutionContext.IsRunMode && containers;
        var topology = new ValkeyTopologyAnnotation(builder.Configuration.GetValue("AppHost:Valkey:Shards", masters), replicas > 0 && !oneLocalNode ? 1 : 0);
        if (builder.ExecutionContext.IsRunMode && (masters > 1 || replicas > 0) && !containers)
        {
            return builder.AddValkeyCluster(name, masters, replicas).WithAnnotation(topology);
        }
        var single = builder.AddSingleValkey(name).WithAnnotation(topology);
        if ((masters > 1 || replicas > 0) && single.Resource is ValkeyContainerResource)
        {
            // Published (Kubernetes): a StatefulSet cluster. A local container stays one node.
            single.WithAnnotation(new ValkeyClusterAnnotation(masters, replicas));
        }
        return single;
    }

    private static IResourceBuilder<IResourceWithConnectionString> AddSingleValkey(this IDistributedApplicationBuilder builder, string name)
    {
        if (ContainerRuntime.UseContainers(builder))
        {
            return builder.AddValkeyContainer(name);
        }

        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var directory = AppHostState.For(builder, name);
        var server = Prerequisites.Find("valkey-server") ?? Prerequisites.Find("redis-server");
        var valkey = new ValkeyExecutableResource(name, server ?? "/bin/sh", directory, password);
        var resource = builder.AddResource(valkey)
            .WithAnnotation(new ValkeyUsersAnnotation())
            .WithEndpoint(name: ValkeyExecutableResource.EndpointName, scheme: "tcp")
            .WithIconName("Database")
            .ExcludeFromManifest();
        if (server is null)
        {
            return resource.FailsToStart(Prerequisites.Missing("valkey-server and redis-server were", Prerequisites.ValkeyPackage));
        }

        var config = Path.Combine(directory, "valkey.conf");
        var acl = Path.Combine(directory, "users.acl");
        var maxMemory = builder.Configuration["AppHost:Valkey:MaxMemory"] ?? DefaultMaxMemory;
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(valkey, async (_, cancellationToken) =>
        {
            // The users go into files only the AppHost's user can read, not onto a command line every process can see.
            var secret = await password.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"{password.Name} has no value.");
            await WritePrivateAsync(acl, await AclFileAsync(valkey, secret, cancellationToken), cancellationToken);
            await WritePrivateAsync(config, $"aclfile \"{acl}\"\nmaxmemory {maxMemory}\nmaxmemory-policy noeviction\n", cancellationToken);
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(valkey, async (_, cancellationToken) =>
            connectionString = await valkey.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(_ => connectionString ?? throw new InvalidOperationException($"{name}'s connection string is not available yet."), name: healthCheck);

        return resource
            .WithArgs(context =>
            {
                context.Args.Add(config);
                context.Args.Add("--port");
                context.Args.Add(valkey.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                foreach (var arg in new[] { "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--appendfsync", AppendFsync, "--save", "" })
                {
                    context.Args.Add(arg);
                }
            })
            .WithHealthCheck(healthCheck);
    }

    internal static async Task WritePrivateAsync(string path, string text, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(path, text, cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
