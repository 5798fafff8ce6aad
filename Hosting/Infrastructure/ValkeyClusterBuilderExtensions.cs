using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Queue;
using StackExchange.Redis;

namespace Hosting.Infrastructure;

/// <summary>
/// A Valkey Cluster of <see cref="Masters"/> masters with <see cref="ReplicasPerMaster"/> replicas each, its nodes the
/// children of this resource. Its connection string names every node; clients find the rest from any of them.
/// </summary>
public sealed class ValkeyClusterResource(string name, ParameterResource password, int masters, int replicasPerMaster)
    : Resource(name), IResourceWithConnectionString, IResourceWithWaitSupport
{
    public ParameterResource PasswordParameter { get; } = password;

    public int Masters { get; } = masters;

    public int ReplicasPerMaster { get; } = replicasPerMaster;

    public List<ValkeyExecutableResource> Nodes { get; } = [];

    /// <summary><c>host:port,host:port,...</c> of every node.</summary>
    public ReferenceExpression Addresses
    {
        get
        {
            var builder = new ReferenceExpressionBuilder();
            for (var i = 0; i < Nodes.Count; i++)
            {
                if (i > 0)
                {
                    builder.AppendLiteral(",");
                }
                builder.Append($"{Nodes[i].PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
            }
            return builder.Build();
        }
    }

    /// <summary>The administrator's connection, for health checks and administration only.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Addresses},user={ValkeyAcl.Admin},password={PasswordParameter}");
}

/// <summary>
/// <c>AddValkey</c> with <c>AppHost:Valkey:Masters</c> above 1 or <c>AppHost:Valkey:Replicas</c> above 0 in run mode: a
/// cluster of local <c>valkey-server</c>/<c>redis-server</c> processes (<c>--cluster-enabled yes</c>, the same users,
/// password, append-only file and memory limit as a single node), joined by the AppHost once every node answers
/// (<see cref="ValkeyClusterFormation"/>) and healthy when every node says the cluster state is ok. Nodes listen on
/// fixed ports from <c>AppHost:Valkey:ClusterPort</c> (7001) without DCP's proxy, because a cluster tells its clients
/// the nodes' own addresses; a node's bus port is its port + 10000, so ports stay at or below 55535.
/// </summary>
internal static class ValkeyClusterBuilderExtensions
{
    internal const int DefaultBasePort = 7001;
    internal const int NodeTimeoutMs = 2000;

    public static IResourceBuilder<IResourceWithConnectionString> AddValkeyCluster(this IDistributedApplicationBuilder builder, string name, int masters, int replicasPerMaster)
    {
        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var cluster = new ValkeyClusterResource(name, password, masters, replicasPerMaster);
        var directory = AppHostState.For(builder, name);
        var binary = Prerequisites.Find("valkey-server") ?? Prerequisites.Find("redis-server");
        var basePort = builder.Configuration.GetValue("AppHost:Valkey:ClusterPort", DefaultBasePort);
        var count = masters * (1 + replicasPerMaster);
        if (basePort < 1024 || basePort + count - 1 > 55535)
        {
            throw new DistributedApplicationException(
                $"AppHost:Valkey:ClusterPort {basePort} does not leave room for {count} nodes at or below port 55535 (a node's cluster bus listens on its port + 10000).");
        }
        var resource = builder.AddResource(cluster)
            .WithAnnotation(new ValkeyUsersAnnotation())
            .WithIconName("DatabaseStack")
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "ValkeyCluster",
                State = new ResourceStateSnapshot(KnownResourceStates.Starting, KnownResourceStateStyles.Info),
                Properties = [new("masters", masters), new("replicas per master", replicasPerMaster)],
            })
            .ExcludeFromManifest();

        var config = Path.Combine(directory, "valkey.conf");
        var acl = Path.Combine(directory, "users.acl");
        var maxMemory = builder.Configuration["AppHost:Valkey:MaxMemory"] ?? ValkeyBuilderExtensions.DefaultMaxMemory;
        var written = 0;
        for (var i = 0; i < count; i++)
        {
            var port = basePort + i;
            var nodeDirectory = Path.Combine(directory, $"node-{i.ToString(CultureInfo.InvariantCulture)}");
            Directory.CreateDirectory(nodeDirectory);
            var node = new ValkeyExecutableResource($"{name}-{i.ToString(CultureInfo.InvariantCulture)}", binary ?? "/bin/sh", nodeDirectory, password);
            cluster.Nodes.Add(node);
            IResourceBuilder<ValkeyExecutableResource> nodeBuilder = builder.AddResource(node)
                .WithEndpoint(name: ValkeyExecutableResource.EndpointName, scheme: "tcp", port: port, targetPort: port, isProxied: false)
                .WithIconName("Database")
                .WithParentRelationship(resource)
                .ExcludeFromManifest();
            if (binary is null)
            {
                nodeBuilder.FailsToStart(Prerequisites.Missing("valkey-server and redis-server were", Prerequisites.ValkeyPackage));
                continue;
            }
            builder.Eventing.Subscribe<BeforeResourceStartedEvent>(node, async (_, cancellationToken) =>
            {
                // One configuration for all nodes, written once: the users, the memory limit, and replication as admin.
                if (Interlocked.Exchange(ref written, 1) == 0)
                {
                    var secret = await password.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"{password.Name} has no value.");
                    await ValkeyBuilderExtensions.WritePrivateAsync(acl, await ValkeyBuilderExtensions.AclFileAsync(cluster, secret, cancellationToken), cancellationToken);
                    await ValkeyBuilderExtensions.WritePrivateAsync(config,
                        $"aclfile \"{acl}\"\nmaxmemory {maxMemory}\nmaxmemory-policy noeviction\nmasteruser {ValkeyAcl.Admin}\nmasterauth \"{secret}\"\n", cancellationToken);
                }
            });
            var nodeCheck = $"{node.Name}_check";
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(nodeCheck,
                _ => new ValkeyPingHealthCheck(() => ($"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", password)), null, null));
            nodeBuilder
                .WithArgs(
                    config, "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", nodeDirectory,
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", NodeTimeoutMs.ToString(CultureInfo.InvariantCulture),
                    "--appendonly", "yes", "--appendfsync", ValkeyBuilderExtensions.AppendFsync, "--save", "")
                .WithHealthCheck(nodeCheck);
        }

        // Joined once every node answers; healthy once every node says the cluster is ok.
        var ready = 0;
        foreach (var node in cluster.Nodes)
        {
            builder.Eventing.Subscribe<ResourceReadyEvent>(node, async (@event, cancellationToken) =>
            {
                if (Interlocked.Increment(ref ready) != cluster.Nodes.Count)
                {
                    return;
                }
                var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
                var logger = @event.Services.GetRequiredService<ResourceLoggerService>().GetLogger(cluster);
                try
                {
                    var secret = await password.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"{password.Name} has no value.");
                    await ValkeyClusterFormation.EnsureAsync(
                        [.. cluster.Nodes.Select((_, i) => new DnsEndPoint("127.0.0.1", basePort + i))], masters, secret, logger, cancellationToken);
                    await notifications.PublishUpdateAsync(cluster, s => s with
                    {
                        State = new ResourceStateSnapshot(KnownResourceStates.Running, KnownResourceStateStyles.Success),
                        StartTimeStamp = DateTime.UtcNow,
                    });
                }
                catch (Exception e) when (e is RedisException or TimeoutException or InvalidOperationException)
                {
                    logger.LogError(e, "Could not form the Valkey cluster: {Reason}", e.Message);
                    await notifications.PublishUpdateAsync(cluster, s => s with
                    {
                        State = new ResourceStateSnapshot(KnownResourceStates.FailedToStart, KnownResourceStateStyles.Error),
                    });
                }
            });
        }
        var clusterCheck = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(clusterCheck,
            _ => new ValkeyClusterHealthCheck([.. Enumerable.Range(0, count).Select(i => new DnsEndPoint("127.0.0.1", basePort + i))], password), null, null));
        return resource.WithHealthCheck(clusterCheck);
    }
}

/// <summary>Healthy when the node answers PING as admin.</summary>
internal sealed class ValkeyPingHealthCheck(Func<(string Address, ParameterResource Password)> target) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (address, password) = target();
        try
        {
            var options = ValkeyConnection.Harden(ConfigurationOptions.Parse(address));
            options.User = ValkeyAcl.Admin;
            options.Password = await password.GetValueAsync(cancellationToken);
            options.ConnectTimeout = 2000;
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
            var server = connection.GetServer(connection.GetEndPoints()[0]);
            await server.PingAsync();
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is RedisException or RedisCommandException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy(e.Message, e);
        }
    }
}

/// <summary>Healthy when every node says the cluster state is ok and knows every other node.</summary>
internal sealed class ValkeyClusterHealthCheck(IReadOnlyList<DnsEndPoint> nodes, ParameterResource password) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // CLUSTER INFO is an admin command to StackExchange.Redis, which refuses it without AllowAdmin.
            var options = new ConfigurationOptions { User = ValkeyAcl.Admin, Password = await password.GetValueAsync(cancellationToken), ConnectTimeout = 2000, AllowAdmin = true };
            foreach (var node in nodes)
            {
                options.EndPoints.Add(node);
            }
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
            var servers = ValkeyClusterFormation.Servers(connection, nodes);
            return await ValkeyClusterFormation.FormedAsync(servers, nodes.Count, cancellationToken)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The cluster state is not ok on every node yet.");
        }
        catch (Exception e) when (e is RedisException or RedisCommandException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy(e.Message, e);
        }
    }
}
