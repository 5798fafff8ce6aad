using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;

namespace Tests.Infrastructure;

/// <summary>
/// A real redis-server (Valkey's protocol) on a free loopback port, with nothing persisted. Tests isolate
/// themselves with <see cref="CreateDatabaseAsync"/>: a logical database of their own, flushed when returned.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private const int DatabaseCount = 512;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly ServerProcess _process;
    private readonly ConcurrentQueue<int> _free = new(Enumerable.Range(1, DatabaseCount - 1));
    private readonly SemaphoreSlim _available = new(DatabaseCount - 1);

    private RedisServer(ServerProcess process, int port, ConnectionMultiplexer admin)
    {
        _process = process;
        Port = port;
        Admin = admin;
    }

    public int Port { get; }

    /// <summary><c>host:port</c>, the form of <c>ConnectionStrings__valkey</c>.</summary>
    public string Endpoint => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>A connection for the fixture's own housekeeping (database 0 is never handed to a test).</summary>
    internal ConnectionMultiplexer Admin { get; }

    internal static async Task<RedisServer> StartAsync(TestRunDirectory run)
    {
        var dir = run.CreateSubdirectory("redis");
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var process = ServerProcess.Start("redis-server", "redis-server",
            [
                "--port", port.ToString(CultureInfo.InvariantCulture),
                "--bind", "127.0.0.1",
                "--dir", dir,
                "--save", "",
                "--appendonly", "no",
                "--databases", DatabaseCount.ToString(CultureInfo.InvariantCulture),
                "--protected-mode", "no",
            ]);
            run.RecordProcess("redis", process.Id);
            try
            {
                await process.WaitUntilReadyAsync(() => FreePort.AcceptsConnectionsAsync(port), StartTimeout);
                var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},allowAdmin=true");
                return new RedisServer(process, port, admin);
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                await process.DisposeAsync();
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Lends a test a logical database of its own. Dispose the result to flush and return it.</summary>
    public async Task<RedisTestDatabase> CreateDatabaseAsync()
    {
        await _available.WaitAsync();
        if (!_free.TryDequeue(out var index))
        {
            throw new InvalidOperationException("No free Valkey database although the semaphore allowed one.");
        }
        return new RedisTestDatabase(this, index);
    }

    internal async Task ReturnAsync(int index)
    {
        await Admin.GetServer(Endpoint).FlushDatabaseAsync(index);
        _free.Enqueue(index);
        _available.Release();
    }

    public async ValueTask DisposeAsync()
    {
        await Admin.DisposeAsync();
        await _process.DisposeAsync();
        _available.Dispose();
    }
}

/// <summary>One test's own Valkey database on the shared server.</summary>
public sealed class RedisTestDatabase : IAsyncDisposable
{
    private readonly RedisServer _server;
    private int _disposed;

    internal RedisTestDatabase(RedisServer server, int index)
    {
        _server = server;
        Index = index;
    }

    public int Index { get; }

    /// <summary>A StackExchange.Redis configuration string that selects this database.</summary>
    public string ConnectionString => $"{_server.Endpoint},defaultDatabase={Index.ToString(CultureInfo.InvariantCulture)}";

    public Task<ConnectionMultiplexer> ConnectAsync() => ConnectionMultiplexer.ConnectAsync(ConnectionString);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _server.ReturnAsync(Index);
        }
    }
}
