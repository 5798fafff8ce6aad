using System.Globalization;
using Queue;
using StackExchange.Redis;
using Tenancy;

namespace Tests.Infrastructure;

/// <summary>
/// A redis-server of one test class's own that loads the ACL file <see cref="ValkeyAcl"/> writes for the users of a
/// deployment (admin, workers, scheduler, operator and a web user per tenant, each with a random password): the
/// default user is off, as in the topology, and the data is kept in an append-only file, so a restart shows what
/// survives one. Started and removed by the test.
/// </summary>
public sealed class AclRedis : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _dir;
    private readonly string _aclPath;
    private readonly Dictionary<string, string> _passwords;
    private ServerProcess _process;

    private AclRedis(string dir, string aclPath, int port, ServerProcess process, Dictionary<string, string> passwords)
    {
        _dir = dir;
        _aclPath = aclPath;
        Port = port;
        _process = process;
        _passwords = passwords;
    }

    public int Port { get; }

    /// <summary>The server's ACL file, as Valkey loaded it.</summary>
    public string AclFile { get; private init; } = "";

    /// <summary>A StackExchange.Redis configuration string for <paramref name="user"/>.</summary>
    public string ConnectionString(string user) =>
        $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)},user={user},password={_passwords[user]}";

    /// <summary>A connection as <paramref name="user"/>, configured as the services configure theirs.</summary>
    public Task<ConnectionMultiplexer> ConnectAsync(string user) =>
        ConnectionMultiplexer.ConnectAsync(ValkeyConnection.Parse(ConnectionString(user)));

    /// <summary>A bare connection as <paramref name="user"/>: commands reach the server as sent, whatever a client library would refuse.</summary>
    public Task<RespClient> RawAsync(string user) => RespClient.ConnectAsync(Port, user, _passwords[user]);

    public static async Task<AclRedis> StartAsync(params string[] tenants)
    {
        var users = new List<string> { ValkeyAcl.Admin, ValkeyAcl.Workers, ValkeyAcl.Scheduler, ValkeyAcl.Operator };
        users.AddRange(tenants.Select(t => ValkeyAcl.WebUser(TenantId.Parse(t))));
        var passwords = users.ToDictionary(u => u, _ => Guid.NewGuid().ToString("N"), StringComparer.Ordinal);
        var dir = Directory.CreateTempSubdirectory("acl-redis-").FullName;
        var acl = ValkeyAcl.File(users.Select(u => (u, passwords[u])));
        var aclPath = Path.Combine(dir, "users.acl");
        await File.WriteAllTextAsync(aclPath, acl);
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var process = Start(dir, aclPath, port);
            try
            {
                await process.WaitUntilReadyAsync(() => FreePort.AcceptsConnectionsAsync(port), StartTimeout);
                return new AclRedis(dir, aclPath, port, process, passwords) { AclFile = acl };
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                await process.DisposeAsync();
            }
            catch
            {
                await process.DisposeAsync();
                Directory.Delete(dir, recursive: true);
                throw;
            }
        }
    }

    /// <summary>Kills the server and starts it again on its port and directory: what it had comes back from its append-only file.</summary>
    public async Task RestartAsync()
    {
        await _process.DisposeAsync();
        _process = Start(_dir, _aclPath, Port);
        await _process.WaitUntilReadyAsync(() => FreePort.AcceptsConnectionsAsync(Port), StartTimeout);
    }

    /// <summary>As the topology runs it: an append-only file fsynced every second, no snapshots.</summary>
    private static ServerProcess Start(string dir, string aclPath, int port) => ServerProcess.Start("redis-server", "redis-server",
    [
        "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir,
        "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--aclfile", aclPath,
        // So that it is the ACL, not the server's default, that refuses DEBUG.
        "--enable-debug-command", "local",
    ]);

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
