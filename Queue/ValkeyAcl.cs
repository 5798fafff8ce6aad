using System.Security.Cryptography;
using System.Text;
using Tenancy;

namespace Queue;

/// <summary>
/// The Valkey users of a deployment and what each may do (KEYS.md, "Who may touch what"), in Valkey's ACL file syntax:
/// a user per tenant web app confined to its tenant's keys, one for the workers, one for the scheduler, one for the
/// operator (the AppHost's tenant rows and commands), and <c>admin</c>, the only one that may administer Valkey (and
/// the replication user of a cluster). The default user is off (<see cref="DefaultUser"/>).
/// </summary>
public static class ValkeyAcl
{
    public const string Admin = "admin";
    public const string Workers = "workers";
    public const string Scheduler = "scheduler";
    public const string Operator = "operator";

    /// <summary>What every user may do on its connection: handshake, database choice, cluster topology and redirections.</summary>
    private const string Connection =
        "+ping +echo +hello +auth +select +quit +reset +asking +readonly +readwrite " +
        "+client|setname +client|id +client|getname " +
        "+cluster|nodes +cluster|slots +cluster|shards +cluster|info +cluster|myid";

    /// <summary>
    /// The default user: off, so no connection can sign in as it or use it without signing in. It keeps every
    /// permission because Valkey replays the append-only file as this user, and re-checks its permissions for the
    /// commands of a transaction (the effects of every function call are one): without them a restart silently drops
    /// every write our functions made. Debian 12's Redis 7.0 does so (<c>AclTests</c> restarts a server to show it), and
    /// Valkey releases without the fix of valkey-io/valkey#3983 (Redis: redis/redis#14541) do too.
    /// </summary>
    public const string DefaultUser = "user default reset off +@all ~* &*";

    private const string Read =
        "+get +exists +type +hget +hmget +hgetall +hexists +hlen +llen +lrange +lindex " +
        "+zcard +zrange +zrangebyscore +zscore +zmscore +scard +smembers +sismember +smismember +srandmember +sunion";

    private const string Write =
        "+set +setex +psetex +del +hset +hmset +hsetnx +hdel +hincrby +rpush +lpush +lrem +rpop +lpop +zadd +zrem +zpopmin +sadd +srem +spop +incrby";

    private const string Functions = "+fcall +fcall_ro";

    private const string LoadFunctions = "+function|load +function|list";

    private const string PubSub = "+publish +spublish +subscribe +unsubscribe +psubscribe +punsubscribe +ssubscribe +sunsubscribe";

    /// <summary>The web app's user of a tenant: <c>web-&lt;tenant&gt;</c>.</summary>
    public static string WebUser(TenantId tenant) => "web-" + tenant.Value;

    /// <summary>
    /// A user's permissions (everything of its ACL line but its name and password), for the key prefix
    /// <paramref name="keyPrefix"/> (<see cref="JobQueueOptions.KeyPrefix"/>).
    /// </summary>
    public static string Rules(string user, string keyPrefix = JobQueueDefaults.KeyPrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var r = keyPrefix;
        if (user.StartsWith("web-", StringComparison.Ordinal))
        {
            var tenant = TenantId.Parse(user[4..]).Value;
            return string.Join(' ',
                $"-@all {Connection} {Read} {Write} {Functions} +spublish +wait",
                // Its own keys; the workers' settings (ceiling, shards) and heartbeats, and its own hold, read-only.
                $"%RW~{r}:t:{tenant}:* %R~{r}:q:*:cfg %R~{r}:q:*:workers %R~{r}:{{holds}}:t:{tenant}",
                $"&{r}:q:*:wake",
                // Outside its keys it may only add to the shards' ready sets (what tells the workers it has new jobs)...
                $"(+sadd ~{r}:q:*:ready)",
                // ...and call the engine's functions with its own keys, those sets and the settings.
                $"({Functions} ~{r}:t:{tenant}:* ~{r}:q:*:ready ~{r}:q:*:cfg)");
        }
        return user switch
        {
            Workers => $"-@all {Connection} {Read} {Write} {Functions} {LoadFunctions} {PubSub} +wait ~{r}:* &{r}:*",
            Operator => $"-@all {Connection} {Read} {Write} {Functions} {LoadFunctions} {PubSub} +wait ~{r}:* &{r}:*",
            Scheduler => $"-@all {Connection} {Read} {Write} {Functions} {LoadFunctions} +spublish " +
                $"%RW~{r}:t:*:recurring %RW~{r}:q:*:rdue %R~{r}:q:*:cfg &{r}:q:*:wake",
            Admin => "+@all ~* &*",
            _ => throw new ArgumentException($"Unknown Valkey user '{user}': expected {Admin}, {Workers}, {Scheduler}, {Operator} or web-<tenant>.", nameof(user)),
        };
    }

    /// <summary>
    /// An ACL file: the default user (<see cref="DefaultUser"/>), then one line per user with its password as a SHA-256 hash (the file holds no
    /// password in the clear).
    /// </summary>
    public static string File(IEnumerable<(string User, string Password)> users, string keyPrefix = JobQueueDefaults.KeyPrefix)
    {
        ArgumentNullException.ThrowIfNull(users);
        var text = new StringBuilder(DefaultUser).Append('\n');
        foreach (var (user, password) in users)
        {
            if (string.IsNullOrEmpty(password) || password.Any(char.IsWhiteSpace))
            {
                throw new ArgumentException($"The Valkey password of user '{user}' is empty or contains white space.", nameof(users));
            }
            text.Append("user ").Append(user).Append(" reset on #").Append(PasswordHash(password)).Append(' ').Append(Rules(user, keyPrefix)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>How Valkey's ACL stores a password: the hex SHA-256 of its UTF-8 bytes.</summary>
    public static string PasswordHash(string password) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
}
