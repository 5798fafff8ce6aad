using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>The queue's own multiplexer, connected on first use and shared by client and server of one process.</summary>
internal sealed class QueueConnection(IOptions<JobQueueOptions> options) : IAsyncDisposable
{
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection = new(() =>
        ConnectionMultiplexer.ConnectAsync(ValkeyConnection.Parse(options.Value.ConnectionString
            ?? throw new InvalidOperationException("No Valkey connection configured: set ConnectionStrings__valkey or VALKEY_URL."))));

    private IDatabase? _database;

    public ValueTask<IDatabase> DatabaseAsync() =>
        _database is { } db ? ValueTask.FromResult(db) : new ValueTask<IDatabase>(ConnectAsync());

    public async Task<ISubscriber> SubscriberAsync() => (await _connection.Value).GetSubscriber();

    private async Task<IDatabase> ConnectAsync() => _database = (await _connection.Value).GetDatabase();

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated)
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
