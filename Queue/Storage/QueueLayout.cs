using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>The keys of one shard of a queue (KEYS.md, "Shard keys").</summary>
internal sealed class ShardKeys
{
    public ShardKeys(string root, string queue, int index, string tag)
    {
        Queue = queue;
        Index = index;
        Tag = tag;
        Prefix = $"{root}:q:{{{tag}}}:";
        Block = [Prefix + "ring", Prefix + "ready", Prefix + "due", Prefix + "leases", Prefix + "lj", Prefix + "tenants", Prefix + "changed", Prefix + "rdue"];
        Wake = RedisChannel.Sharded(Prefix + "wake");
        WakeName = Prefix + "wake";
    }

    public string Queue { get; }

    /// <summary>0 .. S-1.</summary>
    public int Index { get; }

    /// <summary>The hash tag (without braces) every key of the shard shares.</summary>
    public string Tag { get; }

    public string Prefix { get; }

    /// <summary>The shard block of fetch, finish and recurring claims: ring, ready, due, leases, lj, tenants, changed, rdue.</summary>
    public RedisKey[] Block { get; }

    public RedisKey Ring => Block[0];

    public RedisKey Ready => Block[1];

    public RedisKey Due => Block[2];

    public RedisKey Leases => Block[3];

    public RedisKey Tenants => Block[5];

    public RedisKey Changed => Block[6];

    public RedisKey RecurringDue => Block[7];

    public RedisKey Config => Prefix + "cfg";

    public RedisKey Reporter => Prefix + "reporter";

    public RedisKey Workers => Prefix + "workers";

    /// <summary>The shard's waiting total over its tenants, as its depth reporter last counted it.</summary>
    public RedisKey Waiting => Prefix + "waiting";

    public RedisChannel Wake { get; }

    /// <summary>The wake channel's name, for functions that publish on it.</summary>
    public string WakeName { get; }
}

/// <summary>
/// Where every key of the job queue lives (KEYS.md, layout 2): which shard a tenant belongs to, each shard's hash tag,
/// and the key blocks the functions declare. Thread-safe; key names are built once and cached.
/// </summary>
internal sealed class QueueLayout
{
    /// <summary>The layout version this engine reads and writes, recorded in every shard's <c>cfg</c>.</summary>
    public const int Version = 2;

    /// <summary>The tenant slot of single-tenant jobs; never a valid tenant id (ids are lower-case letters, digits, hyphens).</summary>
    public const string NoTenant = "_";

    /// <summary>Per-tenant key names, in the order the functions' tenant blocks declare them.</summary>
    public static readonly string[] TenantNames =
        ["d", "r", "ws", "pg", "er", "sk", "wait", "prio", "active", "delayed", "completed", "failed", "recurring", "stats"];

    /// <summary>Per-tenant key names counts reads, in the order of its count blocks.</summary>
    public static readonly string[] CountNames = ["wait", "prio", "active", "delayed", "completed", "failed", "stats", "d"];

    private const int SlotCount = 16384;

    private readonly ConcurrentDictionary<string, ShardKeys[]> _shards = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Queue, string Tenant), RedisKey[]> _tenants = new();
    private readonly ConcurrentDictionary<(string Queue, string Tenant), RedisKey[]> _counts = new();
    private readonly ConcurrentDictionary<string, int> _shardOf = new(StringComparer.Ordinal);

    public QueueLayout(string root, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        Root = root;
        ShardCount = shards;
        HoldsPrefix = $"{root}:{{holds}}:";
    }

    public string Root { get; }

    /// <summary>S: how many shards every queue has.</summary>
    public int ShardCount { get; }

    public string HoldsPrefix { get; }

    public RedisKey HeldSet => HoldsPrefix + "set";

    public RedisKey Hold(string tenant) => HoldsPrefix + "t:" + tenant;

    public RedisChannel HoldsChannel => RedisChannel.Literal(HoldsPrefix + "changed");

    public string HoldsChannelName => HoldsPrefix + "changed";

    /// <summary>Every shard of <paramref name="queue"/>, by index.</summary>
    public IReadOnlyList<ShardKeys> Shards(string queue) =>
        _shards.GetOrAdd(queue, q => [.. Enumerable.Range(0, ShardCount).Select(s => new ShardKeys(Root, q, s, Tag(q, s, ShardCount)))]);

    /// <summary>
    /// Where a queue's shard count is recorded whatever it is (the <c>cfg</c> of its one-shard tag), so that a process
    /// configured with another count finds out before it writes anywhere.
    /// </summary>
    public RedisKey Anchor(string queue) => $"{Root}:q:{{{queue}}}:cfg";

    /// <summary>The shard of <paramref name="queue"/> that holds <paramref name="tenant"/>'s jobs.</summary>
    public ShardKeys ShardFor(string queue, string tenant) => Shards(queue)[ShardOf(tenant)];

    /// <summary>The tenant's shard: jump consistent hash of the FNV-1a hash of its id.</summary>
    public int ShardOf(string tenant) => ShardCount == 1 ? 0 : _shardOf.GetOrAdd(tenant, t => JumpHash(Fnv1a(t), ShardCount));

    /// <summary>The tenant's keys in its shard of <paramref name="queue"/>, in <see cref="TenantNames"/> order.</summary>
    public RedisKey[] TenantBlock(string queue, string tenant) =>
        _tenants.GetOrAdd((queue, tenant), k => Names(TenantPrefix(k.Queue, k.Tenant), TenantNames));

    /// <summary>The tenant's keys that counts reads, in <see cref="CountNames"/> order.</summary>
    public RedisKey[] CountBlock(string queue, string tenant) =>
        _counts.GetOrAdd((queue, tenant), k => Names(TenantPrefix(k.Queue, k.Tenant), CountNames));

    /// <summary>One of the tenant's keys by name (a <see cref="TenantNames"/> entry).</summary>
    public RedisKey TenantKey(string queue, string tenant, string name) => TenantBlock(queue, tenant)[Array.IndexOf(TenantNames, name)];

    public string TenantPrefix(string queue, string tenant) => $"{Root}:t:{tenant}:{{{ShardFor(queue, tenant).Tag}}}:";

    private static RedisKey[] Names(string prefix, string[] names) => [.. names.Select(n => (RedisKey)(prefix + n))];

    /// <summary>
    /// The hash tag of shard <paramref name="shard"/> of <paramref name="shards"/>: the queue's name alone for one shard;
    /// otherwise <c>q/s</c>, or <c>q/s/n</c> with the smallest n that does it, so that the tag's slot falls in the s-th of
    /// S equal ranges of the slot space and the shards of a queue spread over a cluster's masters.
    /// </summary>
    internal static string Tag(string queue, int shard, int shards)
    {
        if (shards == 1)
        {
            return queue;
        }
        var low = (int)((long)shard * SlotCount / shards);
        var high = (int)((long)(shard + 1) * SlotCount / shards);
        var tag = $"{queue}/{shard.ToString(CultureInfo.InvariantCulture)}";
        for (var n = 1; ; n++)
        {
            var slot = Slot(tag);
            if (slot >= low && slot < high)
            {
                return tag;
            }
            tag = $"{queue}/{shard.ToString(CultureInfo.InvariantCulture)}/{n.ToString(CultureInfo.InvariantCulture)}";
        }
    }

    /// <summary>The cluster slot of a hash tag: CRC16 (XMODEM) mod 16384, as Valkey computes it.</summary>
    internal static int Slot(string tag)
    {
        ushort crc = 0;
        foreach (var b in Encoding.UTF8.GetBytes(tag))
        {
            crc ^= (ushort)(b << 8);
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }
        return crc % SlotCount;
    }

    internal static ulong Fnv1a(string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).</summary>
    internal static int JumpHash(ulong key, int buckets)
    {
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = (key * 2862933555777941757UL) + 1;
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }
        return (int)b;
    }
}
