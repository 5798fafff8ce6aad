// Testmo import benchmark: generates a Testmo-like export of SIZE_MB megabytes on disk (streamed), uploads it as a
// large object into a scratch database on the server of DATABASE_URL, runs the import worker's code path
// (TestmoImporter: streaming reader, binary COPY, one transaction) and prints one JSON line. See README.md.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Domain.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tenancy;
using Workers.Infrastructure;

var sizeMb = int.TryParse(Environment.GetEnvironmentVariable("SIZE_MB"), CultureInfo.InvariantCulture, out var mb) && mb > 0 ? mb : 1024;
var url = Environment.GetEnvironmentVariable("DATABASE_URL");
if (string.IsNullOrWhiteSpace(url))
{
    await Console.Error.WriteLineAsync("Set DATABASE_URL=postgresql://user:pass@host:port/db (a server where the user may create databases); SIZE_MB defaults to 1024.");
    return 2;
}

// Who migrates, uploads and imports: "url" (the default), the user of DATABASE_URL; "owner", a login role owning the
// scratch database as provisioning makes tenant roles (allowed to set session_replication_role); "plain-owner", the
// same role without that, as on a server provisioned otherwise (the per-row trigger path).
var role = Environment.GetEnvironmentVariable("BENCH_ROLE") is { Length: > 0 } r ? r : "url";
if (role is not ("url" or "owner" or "plain-owner"))
{
    await Console.Error.WriteLineAsync("BENCH_ROLE is url (the default), owner or plain-owner.");
    return 2;
}
var admin = new NpgsqlConnectionStringBuilder(DatabaseConnectionString.FromUrl(url));
var scratch = $"import_bench_{DateTime.UtcNow:yyyyMMddHHmmss}";
var owner = role == "url" ? null : $"{scratch}_owner";
var ownerPassword = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
if (owner is not null)
{
    await ExecuteAsync(admin.ConnectionString, $"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{ownerPassword}'");
    if (role == "owner")
    {
        await ExecuteAsync(admin.ConnectionString, $"GRANT SET ON PARAMETER session_replication_role TO \"{owner}\"");
    }
}
await ExecuteAsync(admin.ConnectionString, $"CREATE DATABASE \"{scratch}\"{(owner is null ? "" : $" OWNER \"{owner}\"")}");
var file = Path.Combine(Path.GetTempPath(), $"{scratch}.json");
try
{
    var target = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = scratch, CommandTimeout = 0 };
    if (owner is not null)
    {
        (target.Username, target.Password) = (owner, ownerPassword);
    }
    await ImportAsync(target.ConnectionString);
    return 0;
}
finally
{
    File.Delete(file);
    NpgsqlConnection.ClearAllPools();
    // KEEP_DATABASE=1 leaves the scratch database (its name on stderr) for a look at what the import wrote.
    if (Environment.GetEnvironmentVariable("KEEP_DATABASE") == "1")
    {
        await Console.Error.WriteLineAsync($"kept database {scratch}");
    }
    else
    {
        await ExecuteAsync(admin.ConnectionString, $"DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)");
        if (owner is not null)
        {
            await ExecuteAsync(admin.ConnectionString, $"REVOKE SET ON PARAMETER session_replication_role FROM \"{owner}\"");
            await ExecuteAsync(admin.ConnectionString, $"DROP ROLE \"{owner}\"");
        }
    }
}

async Task ImportAsync(string target)
{
    await using (var db = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(target).Options))
    {
        await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync("bench");
    }

    var generated = await ExportGenerator.WriteAsync(file, (long)sizeMb * 1024 * 1024);
    await using var dataSource = NpgsqlDataSource.Create(target);

    var upload = Stopwatch.StartNew();
    long importId;
    await using (var connection = await dataSource.OpenConnectionAsync())
    await using (var transaction = await connection.BeginTransactionAsync())
    {
        await using var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var (oid, size) = await LargeObjects.WriteAsync(connection, transaction, source, long.MaxValue, CancellationToken.None);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO imports (file_name, size_bytes, upload_oid, status, progress, cases_imported, runs_imported, results_imported, created_at)
            VALUES ('bench.json', @size, @oid, 'Pending', 0, 0, 0, 0, now()) RETURNING id
            """, connection, transaction);
        insert.Parameters.AddWithValue("size", size);
        insert.Parameters.AddWithValue("oid", (long)oid);
        importId = (long)(await insert.ExecuteScalarAsync())!;
        await transaction.CommitAsync();
    }
    upload.Stop();
    File.Delete(file);

    var import = Stopwatch.StartNew();
    var outcome = await new TestmoImporter(dataSource, TimeProvider.System).RunAsync(importId, _ => Task.CompletedTask, CancellationToken.None);
    import.Stop();

    var seconds = import.Elapsed.TotalSeconds;
    var line = new Dictionary<string, object>
    {
        ["size_mb"] = Math.Round(generated / 1048576d, 1),
        ["seconds"] = Math.Round(seconds, 1),
        ["mb_per_s"] = Math.Round(generated / 1048576d / seconds, 1),
        ["peak_rss_mb"] = PeakRssMb(),
        ["upload_seconds"] = Math.Round(upload.Elapsed.TotalSeconds, 1),
        ["cases"] = outcome.Cases,
        ["runs"] = outcome.Runs,
        ["results"] = outcome.Results,
        ["set_based_reference_checks"] = outcome.SetBasedReferenceChecks,
        ["set_based_search_vectors"] = outcome.SetBasedSearchVectors,
        ["role"] = role,
    };
    // Where the import's time went, phase by phase (TestmoImporter's own clock), as phase_<name>_s.
    foreach (var phase in outcome.Phases)
    {
        line[$"phase_{phase.Name}_s"] = Math.Round(phase.Elapsed.TotalSeconds, 2);
    }
    Console.WriteLine(JsonSerializer.Serialize(line));
}

static async Task ExecuteAsync(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync();
}

// The process's peak resident set (VmHWM), the figure that matters for the worker's memory limit.
static double PeakRssMb()
{
    var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    var kb = line is null ? 0 : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    return Math.Round(kb / 1024d, 1);
}

/// <summary>
/// Writes a Testmo-like export of about the requested size, streamed to disk: 10% cases (with descriptions),
/// a few hundred runs, the rest results cycling through every status.
/// </summary>
internal static class ExportGenerator
{
    private static readonly string[] Statuses = ["passed", "failed", "blocked", "skipped", "retest"];

    public static async Task<long> WriteAsync(string path, long bytes)
    {
        await using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16);
        var random = new Random(42);
        await writer.WriteAsync("{\n\"cases\": [\n");
        var cases = 0;
        while (stream.Position < bytes / 10 || cases == 0)
        {
            await writer.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                $"{(cases > 0 ? ",\n" : "")}{{\"id\": {cases + 1}, \"name\": \"Case {cases + 1}: the user can sign in with a valid password\", \"description\": \"Steps: open the page, type the name and password, press enter. Expected: the dashboard shows. {random.Next()}\", \"priority\": \"high\", \"tags\": [\"smoke\", \"login\"]}}"));
            cases++;
        }
        await writer.WriteAsync("\n],\n\"runs\": [\n");
        const int runs = 500;
        for (var i = 0; i < runs; i++)
        {
            await writer.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                $"{(i > 0 ? ",\n" : "")}{{\"id\": {i + 1}, \"name\": \"Nightly {i + 1}\", \"created_at\": \"2024-05-01T10:00:00Z\"}}"));
        }
        await writer.WriteAsync("\n],\n\"results\": [\n");
        var results = 0;
        while (stream.Position < bytes - 200 || results == 0)
        {
            await writer.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                $"{(results > 0 ? ",\n" : "")}{{\"case_id\": {random.Next(cases) + 1}, \"run_id\": {random.Next(runs) + 1}, \"status\": \"{Statuses[results % Statuses.Length]}\", \"elapsed\": {random.Next(1, 600_000) / 1000d}, \"created_at\": \"2024-05-01T10:{results % 60:00}:00Z\"}}"));
            results++;
        }
        await writer.WriteAsync("\n]\n}\n");
        await writer.FlushAsync();
        return stream.Length;
    }
}
