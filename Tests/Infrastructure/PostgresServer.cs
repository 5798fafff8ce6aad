using System.Globalization;
using System.Security.Cryptography;
using Npgsql;

namespace Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL cluster: initdb into the run's temporary directory, started on a free loopback port.
/// PostgreSQL refuses to run as root, so as root the cluster belongs to and runs as the <c>postgres</c> user.
/// Durability is traded for speed (fsync off): the cluster lives only as long as the test run.
/// Tests isolate themselves with <see cref="CreateDatabaseAsync"/>: a database of their own, dropped afterwards.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string Superuser = "postgres";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static int _databaseCounter;

    private readonly ServerProcess _process;
    private readonly string _binDirectory;
    private readonly string _dataDirectory;
    private readonly string? _runAsUser;

    private PostgresServer(ServerProcess process, string binDirectory, string dataDirectory, string? runAsUser, int port, string password)
    {
        _process = process;
        _binDirectory = binDirectory;
        _dataDirectory = dataDirectory;
        _runAsUser = runAsUser;
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string Password { get; }

    /// <summary>Connection string of the superuser to the <c>postgres</c> maintenance database.</summary>
    public string AdminConnectionString => ConnectionStringFor("postgres");

    public string ConnectionStringFor(string database, string user = Superuser, string? password = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Database = database,
            Username = user,
            Password = password ?? Password,
            // Tests create and drop many databases; pooled connections to dropped ones only get in the way.
            Pooling = false,
        }.ConnectionString;

    /// <summary>The same database as a <c>postgresql://</c> URL, the form of <c>DATABASE_URL</c>.</summary>
    public string UrlFor(string database, string user = Superuser, string? password = null) =>
        $"postgresql://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password ?? Password)}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(database)}";

    internal static async Task<PostgresServer> StartAsync(TestRunDirectory run)
    {
        var bin = global::Hosting.Prerequisites.PostgresBinDirectory();
        var root = run.CreateSubdirectory("postgres");
        var data = Path.Combine(root, "data");
        var sockets = Path.Combine(root, "sockets");
        Directory.CreateDirectory(sockets);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var passwordFile = Path.Combine(root, "pwfile");
        await File.WriteAllTextAsync(passwordFile, password + "\n");

        string? runAs = Environment.UserName == "root" ? Superuser : null;
        if (runAs is not null)
        {
            await ServerProcess.RunAsync("chown", ["-R", $"{runAs}:{runAs}", root]);
        }

        await ServerProcess.RunAsync(Path.Combine(bin, "initdb"),
        [
            "-D", data, "-U", Superuser, "-E", "UTF8", "--locale=C.UTF-8",
            "--auth-local=trust", "--auth-host=scram-sha-256", $"--pwfile={passwordFile}", "--no-sync",
        ], runAs, TimeSpan.FromMinutes(2));
        File.Delete(passwordFile);

        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var process = ServerProcess.Start("postgres", Path.Combine(bin, "postgres"),
            [
                "-D", data,
                "-p", port.ToString(CultureInfo.InvariantCulture),
                "-k", sockets,
                "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=400",
                "-c", "shared_buffers=128MB",
            ], runAs);
            run.RecordProcess("postgres", process.Id);
            var server = new PostgresServer(process, bin, data, runAs, port, password);
            try
            {
                await process.WaitUntilReadyAsync(server.AcceptsQueriesAsync, StartTimeout);
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("could not bind", StringComparison.OrdinalIgnoreCase))
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Creates an empty database for one test. Dispose the result to drop it.</summary>
    public async Task<PostgresTestDatabase> CreateDatabaseAsync(string? hint = null)
    {
        var name = $"t{Interlocked.Increment(ref _databaseCounter).ToString(CultureInfo.InvariantCulture)}_{Sanitize(hint ?? "test")}";
        await ExecuteAsync($"CREATE DATABASE \"{name}\"");
        return new PostgresTestDatabase(this, name);
    }

    /// <summary>Runs one statement as the superuser in the maintenance database.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                // A fast shutdown ends the backends and releases shared memory; killing would leave it behind.
                await ServerProcess.RunAsync(Path.Combine(_binDirectory, "pg_ctl"), ["stop", "-D", _dataDirectory, "-m", "fast", "-w", "-t", "20"], _runAsUser, TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                // Killing below is the fallback.
            }
        }
        await _process.DisposeAsync();
    }

    private async Task<bool> AcceptsQueriesAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString);
            await connection.OpenAsync();
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private static string Sanitize(string hint)
    {
        var cleaned = new string(hint.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
        return cleaned.Length > 40 ? cleaned[..40] : cleaned;
    }
}

/// <summary>One test's own database on the shared cluster.</summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    private readonly PostgresServer _server;

    internal PostgresTestDatabase(PostgresServer server, string name)
    {
        _server = server;
        Name = name;
    }

    public string Name { get; }

    public string ConnectionString => _server.ConnectionStringFor(Name);

    /// <summary><c>postgresql://user:pass@host:port/db</c>, the form of <c>DATABASE_URL</c>.</summary>
    public string Url => _server.UrlFor(Name);

    public async ValueTask DisposeAsync() =>
        await _server.ExecuteAsync($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
}
