using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>
/// One Lua script: the embedded shared helpers plus its own body, hashed once and run by EVALSHA with explicit KEYS.
/// Falls back to EVAL (which also caches it server-side) when the server does not know it yet, e.g. after a restart.
/// </summary>
internal sealed class RedisScript
{
    private static readonly string Common = Load("common");

    private readonly byte[] _sha1;

    private RedisScript(string name)
    {
        Name = name;
        Text = Common + "\n" + Load(name);
#pragma warning disable CA5350 // EVALSHA names scripts by SHA-1; it is an identifier here, not a security measure.
        _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Text));
#pragma warning restore CA5350
    }

    public string Name { get; }

    public string Text { get; }

    public static readonly RedisScript Enqueue = new("enqueue");
    public static readonly RedisScript Fetch = new("fetch");
    public static readonly RedisScript Finish = new("finish");
    public static readonly RedisScript Renew = new("renew");
    public static readonly RedisScript Progress = new("progress");
    public static readonly RedisScript Admin = new("admin");
    public static readonly RedisScript Clean = new("clean");
    public static readonly RedisScript Recurring = new("recurring");
    public static readonly RedisScript Hold = new("hold");
    public static readonly RedisScript Counts = new("counts");
    public static readonly RedisScript Report = new("report");

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync db, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await db.ScriptEvaluateAsync(_sha1, keys, args);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(Text, keys, args);
        }
    }

    private static string Load(string name)
    {
        using var stream = typeof(RedisScript).Assembly.GetManifestResourceStream($"Queue.Lua.{name}.lua")
            ?? throw new InvalidOperationException($"Embedded Lua script '{name}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
