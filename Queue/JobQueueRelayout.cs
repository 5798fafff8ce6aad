using Queue.Storage;
using StackExchange.Redis;

namespace Queue;

/// <summary>
/// Moves the job queue's data in Valkey to this version's key layout with a given number of shards (KEYS.md, "Changing
/// the layout"): from an earlier version's layout, or from another shard count. An operator's tool, run with every
/// worker and web app stopped, connected as Valkey's administrator; safe to run again after an interruption.
/// </summary>
public static class JobQueueRelayout
{
    /// <param name="connectionString">Valkey as its administrator (it scans keys): <c>host:port,user=admin,password=...</c> or a URL.</param>
    /// <param name="log">Receives a line per queue and tenant moved.</param>
    public static async Task<RelayoutSummary> RunAsync(string connectionString, int shards, string keyPrefix = JobQueueDefaults.KeyPrefix,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        var options = ValkeyConnection.Parse(connectionString);
        // The administrator may scan; the hardened command map is for confined users.
        options.CommandMap = CommandMap.Default;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        await FunctionLibrary.EnsureLoadedAsync(connection);
        return await new QueueRelayout(connection, options.DefaultDatabase ?? 0, keyPrefix, TimeProvider.System, log ?? (_ => { }))
            .RunAsync(shards, cancellationToken);
    }
}
