using System.Globalization;

namespace Tests.Infrastructure;

/// <summary>A redis-server of one test's own, started with a given ACL file (and nothing persisted); removed on dispose.</summary>
public sealed class AclFileServer : IAsyncDisposable
{
    private readonly string _dir;
    private readonly ServerProcess _process;

    private AclFileServer(string dir, int port, ServerProcess process)
    {
        _dir = dir;
        Port = port;
        _process = process;
    }

    public int Port { get; }

    public static async Task<AclFileServer> StartAsync(string acl)
    {
        var dir = Directory.CreateTempSubdirectory("acl-file-server-").FullName;
        var path = Path.Combine(dir, "users.acl");
        await File.WriteAllTextAsync(path, acl);
        var port = FreePort.Next();
        var process = ServerProcess.Start("redis-server", "redis-server",
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--aclfile", path]);
        try
        {
            await process.WaitUntilReadyAsync(() => FreePort.AcceptsConnectionsAsync(port), TimeSpan.FromSeconds(20));
            return new AclFileServer(dir, port, process);
        }
        catch
        {
            await process.DisposeAsync();
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
