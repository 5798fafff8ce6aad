using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>The keys of one queue (layout in KEYS.md). All share the queue's hash tag.</summary>
internal sealed class QueueKeys
{
    /// <summary>The tenant slot of single-tenant jobs; never a valid tenant id (ids are lower-case letters, digits, hyphens).</summary>
    public const string NoTenant = "_";

    public QueueKeys(string root, string queue)
    {
        Queue = queue;
        Prefix = $"{root}:{{{queue}}}:";
        Global = [Prefix + "ring", Prefix + "leases", Prefix + "delayed", Prefix + "recurring:due"];
        Workers = Prefix + "workers";
        Waiting = Prefix + "waiting";
        Wake = RedisChannel.Literal(Prefix + "wake");
    }

    public string Queue { get; }

    public string Prefix { get; }

    /// <summary>KEYS[] of every script: ring, leases, delayed, recurring due.</summary>
    public RedisKey[] Global { get; }

    public RedisKey Ring => Global[0];

    public RedisKey Delayed => Global[2];

    public RedisKey RecurringDue => Global[3];

    public RedisKey Workers { get; }

    /// <summary>The queue's waiting total over every tenant, as its depth reporter last counted it.</summary>
    public RedisKey Waiting { get; }

    public RedisChannel Wake { get; }

    public RedisKey Job(string tenant, string id) => $"{Prefix}j:{tenant}:{id}";

    public RedisKey Tenant(string tenant, string set) => $"{Prefix}t:{tenant}:{set}";
}
