using Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(TestServers))]

namespace Tests.Infrastructure;

/// <summary>
/// The real servers of a test run: one redis-server, one PostgreSQL cluster and one SMTP server, each started
/// the first time a test asks for it (so a run that needs none pays nothing) and shared by every test after
/// that. Tests get isolation from the servers themselves: a Valkey database of their own, a PostgreSQL
/// database of their own, SMTP recipients of their own. Everything is stopped and deleted when the run ends,
/// whether tests passed or not; servers left behind by a run that was killed are reaped by the next run.
/// </summary>
/// <remarks>Inject it into a test class's constructor: xunit hands every test the same instance.</remarks>
public sealed class TestServers : IAsyncDisposable
{
    private readonly TestRunDirectory _run = TestRunDirectory.Create();
    private readonly Lazy<Task<RedisServer>> _redis;
    private readonly Lazy<Task<PostgresServer>> _postgres;
    private readonly Lazy<Task<SmtpServer>> _smtp;

    public TestServers()
    {
        _redis = new(() => RedisServer.StartAsync(_run));
        _postgres = new(() => PostgresServer.StartAsync(_run));
        _smtp = new(() => SmtpServer.StartAsync(_run));
    }

    public Task<RedisServer> RedisAsync() => _redis.Value;

    public Task<PostgresServer> PostgresAsync() => _postgres.Value;

    public Task<SmtpServer> SmtpAsync() => _smtp.Value;

    public async ValueTask DisposeAsync()
    {
        // Stop whatever was started, even if a server failed to start (its process may still be half up).
        foreach (var started in new Func<Task<IAsyncDisposable?>>[]
                 {
                     () => StartedOrNull(_redis), () => StartedOrNull(_postgres), () => StartedOrNull(_smtp),
                 })
        {
            var server = await started();
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
        _run.Dispose();
    }

    private static async Task<IAsyncDisposable?> StartedOrNull<T>(Lazy<Task<T>> lazy) where T : IAsyncDisposable
    {
        if (!lazy.IsValueCreated)
        {
            return null;
        }
        try
        {
            return await lazy.Value;
        }
        catch (Exception)
        {
            return null;
        }
    }
}
