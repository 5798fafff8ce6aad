using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace Tests.Infrastructure;

/// <summary>
/// A redis-server of one test's own, persisting with AOF, that the test may kill with SIGKILL and start again on the
/// same port and data directory: for chaos tests only (the shared <see cref="RedisServer"/> never dies).
/// </summary>
public sealed class KillableRedis : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _dir;
    private readonly string _fsync;
    private ServerProcess? _process;

    private KillableRedis(string dir, int port, string fsync)
    {
        _dir = dir;
        Port = port;
        _fsync = fsync;
    }

    public int Port { get; }

    /// <summary>A connection string that rides out the outage: short timeouts, no abort on a failed connect.</summary>
    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)},abortConnect=false,connectTimeout=1000,syncTimeout=2000,asyncTimeout=2000";

    /// <param name="fsync"><c>always</c> or <c>everysec</c>: the AOF's <c>appendfsync</c>.</param>
    public static async Task<KillableRedis> StartAsync(string fsync = "always")
    {
        var dir = Directory.CreateTempSubdirectory("killable-redis-").FullName;
        var redis = new KillableRedis(dir, FreePort.Next(), fsync);
        await redis.RestartAsync();
        return redis;
    }

    public Task<ConnectionMultiplexer> ConnectAsync() => ConnectionMultiplexer.ConnectAsync(ConnectionString);

    /// <summary>SIGKILL: no shutdown, no final fsync, as a power loss of the process would be.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using var killed = Process.GetProcessById(process.Id);
            killed.Kill();
            await killed.WaitForExitAsync();
        }
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }
    }

    /// <summary>Starts the server (again) on the same port and data, replaying its AOF.</summary>
    public async Task RestartAsync()
    {
        await KillAsync();
        _process = ServerProcess.Start("redis-server", "redis-server",
        [
            "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _dir,
            "--save", "", "--appendonly", "yes", "--appendfsync", _fsync, "--protected-mode", "no",
        ]);
        await _process.WaitUntilReadyAsync(async () =>
        {
            if (!await FreePort.AcceptsConnectionsAsync(Port))
            {
                return false;
            }
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");
                // Loading the AOF answers -LOADING until done.
                await probe.GetDatabase().PingAsync();
                return true;
            }
            catch (RedisException)
            {
                return false;
            }
        }, StartTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
