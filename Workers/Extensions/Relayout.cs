using System.Globalization;
using Queue;

namespace Workers.Extensions;

/// <summary>
/// The operator's command that moves the job queue's data in Valkey to this version's layout (from an earlier version,
/// or to another number of shards): <c>dotnet Workers.dll relayout [--shards N]</c> with every worker and web app
/// stopped, <c>ConnectionStrings__valkey</c> (or <c>VALKEY_URL</c>) naming Valkey's administrator, and the shards from
/// <c>--shards</c>, else <c>QUEUE_SHARDS</c>, else 1.
/// </summary>
internal static class Relayout
{
    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var connection = ValkeyConnection.FromConfiguration(configuration);
        if (connection is null)
        {
            await Console.Error.WriteLineAsync("relayout: set ConnectionStrings__valkey (or VALKEY_URL) to Valkey's administrator (user admin).");
            return 2;
        }
        var shardsText = args.Length == 2 && args[0] == "--shards" ? args[1] : args.Length == 0 ? configuration["QUEUE_SHARDS"] ?? "1" : null;
        if (shardsText is null || !int.TryParse(shardsText, NumberStyles.None, CultureInfo.InvariantCulture, out var shards) || shards is < 1 or > 1024)
        {
            await Console.Error.WriteLineAsync($"relayout: usage: dotnet Workers.dll relayout [--shards N] (N from 1 to 1024; got '{string.Join(' ', args)}').");
            return 2;
        }
        try
        {
            var summary = await JobQueueRelayout.RunAsync(connection, shards, log: Console.WriteLine);
            Console.WriteLine($"relayout: {summary.Queues.Count} queue(s), {summary.Tenants} tenant(s), {summary.Jobs} job(s) in {shards} shard(s); " +
                $"{summary.RequeuedRunning} job(s) that were running went back to waiting.");
            return 0;
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync("relayout: " + e.Message);
            return 1;
        }
        catch (StackExchange.Redis.RedisException e)
        {
            await Console.Error.WriteLineAsync("relayout: Valkey refused or failed: " + e.Message);
            return 1;
        }
    }
}
