using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Queue;
using StackExchange.Redis;

namespace Hosting.Infrastructure;

/// <summary>
/// Joins cluster-enabled Valkey nodes into one cluster: the first <c>masters</c> nodes share the 16384 slots in equal
/// contiguous ranges (so that the queue's shard tags, which spread over equal ranges, land one shard per master), and
/// node <c>masters + r * masters + m</c> replicates master <c>m</c>. Idempotent: a cluster already formed (nodes
/// restarted on their <c>nodes.conf</c>) is left as it is; a half-formed one is completed.
/// </summary>
internal static class ValkeyClusterFormation
{
    private const int SlotCount = 16384;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static async Task EnsureAsync(IReadOnlyList<DnsEndPoint> nodes, int masters, string adminPassword, ILogger logger, CancellationToken cancellationToken)
    {
        if (masters < 1 || nodes.Count % masters != 0)
        {
            throw new ArgumentException($"A cluster of {nodes.Count} nodes cannot have {masters} masters with the same number of replicas each.", nameof(masters));
        }
        var options = new ConfigurationOptions
        {
            User = ValkeyAcl.Admin,
            Password = adminPassword,
            AllowAdmin = true,
            AbortOnConnectFail = false,
            ConnectTimeout = 5000,
        };
        foreach (var node in nodes)
        {
            options.EndPoints.Add(node);
        }
        // The administrator may run anything (INFO, CLUSTER): no hardening of the command map here.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var servers = Servers(connection, nodes);

        if (await FormedAsync(servers, nodes.Count, cancellationToken))
        {
            logger.LogInformation("The Valkey cluster of {Nodes} nodes is formed already", nodes.Count);
            return;
        }
        var ids = new List<string>();
        foreach (var server in servers)
        {
            ids.Add((string)(await server.ExecuteAsync("CLUSTER", "MYID"))!);
        }
        for (var i = 1; i < servers.Count; i++)
        {
            await servers[i].ExecuteAsync("CLUSTER", "MEET", nodes[0].Host, nodes[0].Port.ToString(CultureInfo.InvariantCulture));
        }
        await UntilAsync(async () =>
        {
            foreach (var server in servers)
            {
                if (Lines((string?)await server.ExecuteAsync("CLUSTER", "NODES")).Count < nodes.Count)
                {
                    return false;
                }
            }
            return true;
        }, "every node to know every other", cancellationToken);

        for (var m = 0; m < masters; m++)
        {
            var first = m * SlotCount / masters;
            var last = ((m + 1) * SlotCount / masters) - 1;
            var own = Lines((string?)await servers[m].ExecuteAsync("CLUSTER", "NODES")).First(l => l.Contains("myself", StringComparison.Ordinal));
            if (own.Split(' ').Length <= 8)
            {
                await servers[m].ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", first.ToString(CultureInfo.InvariantCulture), last.ToString(CultureInfo.InvariantCulture));
            }
        }
        for (var r = masters; r < nodes.Count; r++)
        {
            var master = ids[r % masters];
            var own = Lines((string?)await servers[r].ExecuteAsync("CLUSTER", "NODES")).First(l => l.Contains("myself", StringComparison.Ordinal));
            if (!own.Contains(master, StringComparison.Ordinal))
            {
                // The replica must know the master's slots first (gossip), or REPLICATE is refused for a while.
                await UntilAsync(async () =>
                {
                    try
                    {
                        await servers[r].ExecuteAsync("CLUSTER", "REPLICATE", master);
                        return true;
                    }
                    catch (RedisServerException e) when (e.Message.Contains("Unknown node", StringComparison.Ordinal) || e.Message.Contains("master", StringComparison.OrdinalIgnoreCase))
                    {
                        return false;
                    }
                }, $"node {nodes[r]} to replicate {nodes[r % masters]}", cancellationToken);
            }
        }
        await UntilAsync(() => FormedAsync(servers, nodes.Count, cancellationToken), "the cluster state to be ok on every node", cancellationToken);
        logger.LogInformation("Formed a Valkey cluster of {Masters} masters with {Replicas} replicas each", masters, (nodes.Count / masters) - 1);
    }

    /// <summary>The connection's server of each node, in order (the connection may list them as IP or DNS endpoints).</summary>
    public static List<IServer> Servers(IConnectionMultiplexer connection, IReadOnlyList<DnsEndPoint> nodes)
    {
        var known = connection.GetEndPoints();
        return [.. nodes.Select(n => connection.GetServer(known.First(e => e switch
        {
            DnsEndPoint dns => dns.Port == n.Port,
            IPEndPoint ip => ip.Port == n.Port,
            _ => false,
        })))];
    }

    /// <summary>Every node knows all the others and says the cluster state is ok.</summary>
    public static async Task<bool> FormedAsync(IReadOnlyList<IServer> servers, int nodes, CancellationToken cancellationToken)
    {
        foreach (var server in servers)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = (string?)await server.ExecuteAsync("CLUSTER", "INFO") ?? "";
            if (!info.Contains("cluster_state:ok", StringComparison.Ordinal) || !info.Contains($"cluster_known_nodes:{nodes}\r", StringComparison.Ordinal))
            {
                return false;
            }
            // A replica counts once it has synchronised with its master (until then WAIT would find no replica).
            var replication = (string?)await server.ExecuteAsync("INFO", "replication") ?? "";
            if (replication.Contains("role:slave", StringComparison.Ordinal) && !replication.Contains("master_link_status:up", StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    private static List<string> Lines(string? text) => [.. (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static async Task UntilAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting for {what} after {Patience.TotalSeconds:0} s.");
            }
            await Task.Delay(200, cancellationToken);
        }
    }
}
