using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Queue.Storage;

/// <summary>
/// The engine's Valkey function library (Storage/Lua/library.lua): named <c>aq&lt;version&gt;</c> after the first hex
/// digits of its code's SHA-1, so that two versions can be loaded side by side during an upgrade. Functions are kept
/// with the data and replicated; <see cref="EnsureLoadedAsync"/> loads the library on every primary that lacks it
/// (workers, scheduler and operator may; a tenant's web app may only call).
/// </summary>
internal static class FunctionLibrary
{
    private const string VersionPlaceholder = "__VERSION__";

    static FunctionLibrary()
    {
        using var stream = typeof(FunctionLibrary).Assembly.GetManifestResourceStream("Queue.Lua.library.lua")
            ?? throw new InvalidOperationException("The embedded function library library.lua is missing.");
        using var reader = new StreamReader(stream);
        var code = reader.ReadToEnd();
#pragma warning disable CA5350 // A version label derived from the code, not a security measure.
        Version = "aq" + Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(code)))[..12];
#pragma warning restore CA5350
        Code = $"#!lua name={Version}\n" + code.Replace(VersionPlaceholder, Version, StringComparison.Ordinal);
    }

    /// <summary>The library's name, also the prefix of its functions' names.</summary>
    public static string Version { get; }

    public static string Code { get; }

    public static string Function(string name) => Version + "_" + name;

    /// <summary>Loads the library on every connected primary that does not have it yet.</summary>
    /// <exception cref="QueueFunctionsMissingException">The connection's user may not load functions.</exception>
    public static async Task EnsureLoadedAsync(IConnectionMultiplexer connection)
    {
        foreach (var server in connection.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }
            try
            {
                var listed = await server.ExecuteAsync("FUNCTION", "LIST", "LIBRARYNAME", Version);
                if (listed.Length > 0)
                {
                    continue;
                }
                await server.ExecuteAsync("FUNCTION", "LOAD", Code);
            }
            catch (RedisServerException e) when (e.Message.Contains("already exists", StringComparison.Ordinal))
            {
                // Another process loaded it meanwhile.
            }
            catch (RedisServerException e) when (e.Message.StartsWith("NOPERM", StringComparison.Ordinal))
            {
                throw new QueueFunctionsMissingException(e);
            }
        }
    }

    /// <summary>How long a call keeps trying through a failover, a resharding or a restart before it gives up.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private static long _lastReconfigure;

    /// <summary>
    /// Calls one function with its declared keys. If the server has not got the library (a new server, or one flushed),
    /// loads it and calls again. With <paramref name="retry"/> (for functions that may safely run twice: every check
    /// they make is repeated), a call that meets a failover, a resharding (TRYAGAIN, CLUSTERDOWN) or a node that stopped
    /// answering is tried again for up to 15 s, after asking the connection to learn the cluster's topology anew.
    /// </summary>
    public static async Task<RedisResult> CallAsync(IConnectionMultiplexer connection, IDatabaseAsync db, string function, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, bool retry = true)
    {
        var call = new List<object>(2 + keys.Count + args.Count) { Function(function), keys.Count };
        foreach (var key in keys)
        {
            call.Add(key);
        }
        foreach (var arg in args)
        {
            call.Add(arg);
        }
        var started = Environment.TickCount64;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await db.ExecuteAsync("FCALL", call);
            }
            catch (RedisServerException e) when (e.Message.Contains("Function not found", StringComparison.Ordinal) && attempt == 1)
            {
                await EnsureLoadedAsync(connection);
            }
            catch (Exception e) when (Transient(e))
            {
                Reconfigure(connection);
                if (!retry || Environment.TickCount64 - started > Patience.TotalMilliseconds)
                {
                    throw;
                }
                await Task.Delay(Math.Min(100 * attempt, 1000));
            }
        }
    }

    /// <summary>What a failover, a resharding or a restarting node answers for a while.</summary>
    private static bool Transient(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException => true,
        RedisServerException server => server.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || server.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
            || server.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || server.Message.StartsWith("READONLY", StringComparison.Ordinal)
            || server.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>Asks the connection to read the topology again (a replica promoted, slots moved), at most once a second.</summary>
    public static void Reconfigure(IConnectionMultiplexer connection)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastReconfigure);
        if (now - last < 1000 || Interlocked.CompareExchange(ref _lastReconfigure, now, last) != last)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await connection.ConfigureAsync();
            }
            catch (RedisException)
            {
                // The next failed call asks again.
            }
        });
    }
}

/// <summary>Valkey has not got the engine's functions and this connection's user may not load them.</summary>
public sealed class QueueFunctionsMissingException(Exception inner) : InvalidOperationException(
    $"Valkey has not got the job engine's functions (library {FunctionLibrary.Version}) and this connection's user may not load them. " +
    "They are loaded by the workers, the scheduler and the operator when they start: start one of them (or call FUNCTION LOAD as an admin).", inner);
