using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Hosting.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Queue;
using StackExchange.Redis;
using Tenancy;

namespace Tests.Infrastructure;

/// <summary>
/// A Valkey Cluster of one test's own: <c>masters</c> redis-server nodes with <c>replicas</c> replicas each, on free
/// ports at or below 55535 (a node's bus is its port + 10000), the ACL users of a deployment, an append-only file, joined
/// by the same code as the AppHost's run mode (<see cref="ValkeyClusterFormation"/>). A node may be killed with SIGKILL;
/// its replica takes over after the node timeout. Everything is removed on dispose.
/// </summary>
public sealed class ClusterRedis : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private const int NodeTimeoutMs = 1000;

    private readonly string _dir;
    private readonly Dictionary<string, string> _passwords;
    private readonly ServerProcess?[] _nodes;

    private ClusterRedis(string dir, int basePort, int masters, ServerProcess?[] nodes, Dictionary<string, string> passwords)
    {
        _dir = dir;
        BasePort = basePort;
        Masters = masters;
        _nodes = nodes;
        _passwords = passwords;
    }

    public int BasePort { get; }

    public int Masters { get; }

    public int NodeCount => _nodes.Length;

    public int Port(int node) => BasePort + node;

    /// <summary>A configuration string naming every node, as <paramref name="user"/>.</summary>
    public string ConnectionString(string user) =>
        string.Join(',', Enumerable.Range(0, NodeCount).Select(i => $"127.0.0.1:{Port(i).ToString(CultureInfo.InvariantCulture)}")) +
        $",user={user},password={_passwords[user]}";

    public static async Task<ClusterRedis> StartAsync(int masters, int replicas, params string[] tenants)
    {
        var users = new List<string> { ValkeyAcl.Admin, ValkeyAcl.Workers, ValkeyAcl.Scheduler, ValkeyAcl.Operator };
        users.AddRange(tenants.Select(t => ValkeyAcl.WebUser(TenantId.Parse(t))));
        var passwords = users.ToDictionary(u => u, _ => Guid.NewGuid().ToString("N"), StringComparer.Ordinal);
        var dir = Directory.CreateTempSubdirectory("cluster-redis-").FullName;
        var acl = Path.Combine(dir, "users.acl");
        await File.WriteAllTextAsync(acl, ValkeyAcl.File(users.Select(u => (u, passwords[u]))));
        var count = masters * (1 + replicas);
        var basePort = FreeRange(count);
        var nodes = new ServerProcess?[count];
        var cluster = new ClusterRedis(dir, basePort, masters, nodes, passwords);
        try
        {
            for (var i = 0; i < count; i++)
            {
                await cluster.StartNodeAsync(i, acl);
            }
            await ValkeyClusterFormation.EnsureAsync(
                [.. Enumerable.Range(0, count).Select(i => new DnsEndPoint("127.0.0.1", basePort + i))], masters, passwords[ValkeyAcl.Admin],
                NullLogger.Instance, CancellationToken.None);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartNodeAsync(int i, string acl)
    {
        var nodeDir = Path.Combine(_dir, $"node-{i.ToString(CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(nodeDir);
        var port = Port(i);
        var process = ServerProcess.Start($"redis-{port.ToString(CultureInfo.InvariantCulture)}", "redis-server",
        [
            "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", nodeDir, "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--aclfile", acl,
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", NodeTimeoutMs.ToString(CultureInfo.InvariantCulture),
            "--masteruser", ValkeyAcl.Admin, "--masterauth", _passwords[ValkeyAcl.Admin],
        ]);
        _nodes[i] = process;
        await process.WaitUntilReadyAsync(() => FreePort.AcceptsConnectionsAsync(port), StartTimeout);
    }

    /// <summary>The node (index) that is currently the master of <paramref name="key"/>'s slot.</summary>
    public async Task<int> MasterOfAsync(RedisKey key)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(ValkeyConnection.Parse(ConnectionString(ValkeyAcl.Admin)));
        return connection.GetServer(key).EndPoint switch
        {
            DnsEndPoint dns => dns.Port,
            IPEndPoint ip => ip.Port,
            var other => throw new InvalidOperationException($"Unexpected endpoint {other}."),
        } - BasePort;
    }

    /// <summary>SIGKILL of one node: no shutdown, as a crash of its machine would be.</summary>
    public async Task KillAsync(int node)
    {
        if (_nodes[node] is { HasExited: false } process)
        {
            using var killed = Process.GetProcessById(process.Id);
            killed.Kill();
            await killed.WaitForExitAsync();
        }
    }

    /// <summary>Waits until every live node sees the cluster state ok again (a replica promoted in place of a dead master).</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            var ok = true;
            for (var i = 0; i < NodeCount && ok; i++)
            {
                if (_nodes[i] is not { HasExited: false })
                {
                    continue;
                }
                await using var client = await RespClient.ConnectAsync(Port(i), ValkeyAcl.Admin, _passwords[ValkeyAcl.Admin]);
                ok = (await client.SendAsync("CLUSTER", "INFO")).Contains("cluster_state:ok", StringComparison.Ordinal);
            }
            if (ok)
            {
                return;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The cluster was not ok again after {timeout.TotalSeconds:0} s.");
    }

    /// <summary>Commands each live master has processed so far (INFO stats).</summary>
    public async Task<Dictionary<int, long>> CommandsPerMasterAsync()
    {
        var result = new Dictionary<int, long>();
        for (var i = 0; i < NodeCount; i++)
        {
            if (_nodes[i] is not { HasExited: false })
            {
                continue;
            }
            await using var client = await RespClient.ConnectAsync(Port(i), ValkeyAcl.Admin, _passwords[ValkeyAcl.Admin]);
            if (!(await client.SendAsync("INFO", "replication")).Contains("role:master", StringComparison.Ordinal))
            {
                continue;
            }
            var stats = await client.SendAsync("INFO", "stats");
            var line = stats.Split("\r\n").First(l => l.StartsWith("total_commands_processed:", StringComparison.Ordinal));
            result[i] = long.Parse(line["total_commands_processed:".Length..], CultureInfo.InvariantCulture);
        }
        return result;
    }

    /// <summary>
    /// A base port with <paramref name="count"/> consecutive ports free, and their bus ports (+10000), at or below 55535,
    /// and below the kernel's ephemeral range where possible: a port found free there can be handed to any outgoing
    /// connection (the tests make thousands) before the node binds it.
    /// </summary>
    internal static int FreeRange(int count)
    {
        var ceiling = Math.Min(55536, EphemeralLow() - 10000) - count;
        var (low, high) = ceiling > 12000 ? (10000, ceiling) : (20000, 55536 - count);
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var start = Random.Shared.Next(low, high);
            if (Enumerable.Range(start, count).All(p => Free(p) && Free(p + 10000)))
            {
                return start;
            }
        }
        throw new InvalidOperationException("No free range of ports for a cluster below 55536.");
    }

    /// <summary>The first port of Linux's ephemeral range (<c>ip_local_port_range</c>), 32768 where it cannot be read.</summary>
    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
