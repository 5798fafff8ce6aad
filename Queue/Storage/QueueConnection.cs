using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>
/// The queue's Valkey connection, shared by client and server of one process: the application's multiplexer when it
/// registered one (Aspire's <c>AddRedisClient</c>, see <see cref="ValkeyConnection.AddValkeyClient"/>), else one of the
/// queue's own, connected on first use from <see cref="JobQueueOptions.ConnectionString"/>.
/// </summary>
internal sealed class QueueConnection : IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection;
    private readonly bool _owned;

    public QueueConnection(IOptions<JobQueueOptions> options, IServiceProvider services)
    {
        var shared = services.GetService(typeof(IConnectionMultiplexer)) as IConnectionMultiplexer;
        _owned = shared is null;
        _connection = new(async () => shared ?? await ConnectionMultiplexer.ConnectAsync(ValkeyConnection.Parse(options.Value.ConnectionString
            ?? throw new InvalidOperationException("No Valkey connection configured: set ConnectionStrings__valkey or VALKEY_URL."))));
    }

    private IDatabase? _database;

    public ValueTask<IDatabase> DatabaseAsync() =>
        _database is { } db ? ValueTask.FromResult(db) : new ValueTask<IDatabase>(ConnectAsync());

    public async Task<ISubscriber> SubscriberAsync() => (await _connection.Value).GetSubscriber();

    public Task<IConnectionMultiplexer> MultiplexerAsync() => _connection.Value;

    private async Task<IDatabase> ConnectAsync() => _database = (await _connection.Value).GetDatabase();

    public async ValueTask DisposeAsync()
    {
        if (_owned && _connection.IsValueCreated)
        {
            try
            {
                await (await _connection.Value).DisposeAsync();
            }
            catch (RedisConnectionException)
            {
                // Never connected: nothing to close.
            }
        }
    }
}
