using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Queue;
using Tenancy;

// A tenant database outage under load, against a real Workers process (issue 12, "Must show"). Prints one JSON line.
// Creates databases bench_a and bench_b on the server of DATABASE_URL (dropped afterwards), starts WORKERS_DLL with
// both tenants, keeps BACKLOG notification jobs waiting for each tenant, measures A's completions per second for
// BEFORE_S, then refuses connections to bench_b for OUTAGE_S (ALTER DATABASE ... ALLOW_CONNECTIONS false and its
// sessions terminated) while measuring A again, restores B, stops producing and times until both tenants have
// nothing left waiting, delayed or active.
var adminUrl = Environment.GetEnvironmentVariable("DATABASE_URL") ?? throw new InvalidOperationException("Set DATABASE_URL.");
var valkey = Environment.GetEnvironmentVariable("VALKEY_URL") ?? throw new InvalidOperationException("Set VALKEY_URL.");
var workersDll = Environment.GetEnvironmentVariable("WORKERS_DLL") ?? throw new InvalidOperationException("Set WORKERS_DLL.");
var backlog = Int("BACKLOG", 1500);
var beforeS = Int("BEFORE_S", 20);
var outageS = Int("OUTAGE_S", 60);

var admin = DatabaseConnectionString.FromUrl(adminUrl);
var tenants = new[] { "bench-a", "bench-b" };
var urls = new Dictionary<string, string>();
await using (var connection = new NpgsqlConnection(admin))
{
    await connection.OpenAsync();
    foreach (var t in tenants)
    {
        var name = t.Replace('-', '_');
        await Exec(connection, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        await Exec(connection, $"CREATE DATABASE {name}");
        urls[t] = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }
}
var users = new Dictionary<string, long>();
foreach (var t in tenants)
{
    await using var db = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(urls[t]).Options);
    await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync(t);
    var user = new User { Email = $"u@{t}.test", Name = "u", EmailPreference = EmailPreference.DailyDigest, CreatedAt = DateTimeOffset.UtcNow };
    db.Users.Add(user);
    await db.SaveChangesAsync();
    users[t] = user.Id;
}
var configs = JsonSerializer.Serialize(tenants.ToDictionary(t => t, t => new { databaseUrl = ToUrl(urls[t]), signingKey = "key-" + t }));

using var workers = Process.Start(new ProcessStartInfo("dotnet", [workersDll])
{
    RedirectStandardOutput = true,
    RedirectStandardError = true,
    Environment =
    {
        ["VALKEY_URL"] = valkey, ["MULTI_TENANT_MODE"] = "true", ["TENANT_CONFIGS"] = configs,
        ["ASPNETCORE_URLS"] = "http://127.0.0.1:0", ["Logging__LogLevel__Default"] = "Warning",
    },
})!;
workers.OutputDataReceived += (_, _) => { };
workers.ErrorDataReceived += (_, _) => { };
workers.BeginOutputReadLine();
workers.BeginErrorReadLine();

var services = new ServiceCollection();
services.AddLogging();
services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["MULTI_TENANT_MODE"] = "true", ["TENANT_CONFIGS"] = configs, ["VALKEY_URL"] = valkey,
}).Build());
services.AddTenancy();
services.AddJobQueueClient();
await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<IJobQueueClient>();
var queueAdmin = provider.GetRequiredService<IJobQueueAdmin>();

async Task<JobCounts> Counts(string t)
{
    using var scope = TenantScope.Begin(TenantId.Parse(t));
    return await queueAdmin.GetCountsAsync(QueueNames.Notifications);
}

var producing = new CancellationTokenSource();
var produced = new Dictionary<string, long> { ["bench-a"] = 0, ["bench-b"] = 0 };
var producer = Task.Run(async () =>
{
    while (!producing.IsCancellationRequested)
    {
        foreach (var t in tenants)
        {
            var c = await Counts(t);
            var missing = backlog - (c.Waiting + c.Active + c.Delayed);
            if (missing > 0)
            {
                var payload = JsonSerializer.Serialize(new CreateNotificationPayload([users[t]], "bench", "hello", null), JsonSerializerOptions.Web);
                using var scope = TenantScope.Begin(TenantId.Parse(t));
                await client.EnqueueBulkAsync(QueueNames.Notifications, [.. Enumerable.Range(0, (int)missing).Select(_ => new JobRequest(JobNames.CreateNotification, payload))]);
                produced[t] += missing;
            }
        }
        await Task.Delay(100);
    }
});

// Warm up until A completes jobs, then measure.
while (await NotificationsAsync("bench-a") == 0)
{
    await Task.Delay(200);
}
var rateBefore = await RateAsync("bench-a", beforeS);

var bName = "bench_b";
await using (var connection = new NpgsqlConnection(admin))
{
    await connection.OpenAsync();
    await Exec(connection, $"ALTER DATABASE {bName} ALLOW_CONNECTIONS false");
    await Exec(connection, $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{bName}'");
}
var rateDuring = await RateAsync("bench-a", outageS);
await using (var connection = new NpgsqlConnection(admin))
{
    await connection.OpenAsync();
    await Exec(connection, $"ALTER DATABASE {bName} ALLOW_CONNECTIONS true");
}
var returned = Stopwatch.StartNew();
await producing.CancelAsync();
await producer;
while (true)
{
    var a = await Counts("bench-a");
    var b = await Counts("bench-b");
    if (a.Waiting + a.Active + a.Delayed + b.Waiting + b.Active + b.Delayed == 0)
    {
        break;
    }
    if (returned.Elapsed > TimeSpan.FromMinutes(10))
    {
        break;
    }
    await Task.Delay(200);
}
var drained = returned.Elapsed.TotalSeconds;
var finalA = await Counts("bench-a");
var finalB = await Counts("bench-b");
var rows = await NotificationsAsync("bench-b");
var rowsA = await NotificationsAsync("bench-a");
workers.Kill(entireProcessTree: true);
await workers.WaitForExitAsync();
await using (var connection = new NpgsqlConnection(admin))
{
    await connection.OpenAsync();
    foreach (var t in tenants)
    {
        await Exec(connection, $"DROP DATABASE IF EXISTS {t.Replace('-', '_')} WITH (FORCE)");
    }
}
Console.WriteLine(JsonSerializer.Serialize(new
{
    backlog, before_s = beforeS, outage_s = outageS,
    a_rate_before = Math.Round(rateBefore, 1), a_rate_during = Math.Round(rateDuring, 1), a_ratio = Math.Round(rateDuring / rateBefore, 3),
    b_produced = produced["bench-b"], b_completed = finalB.Completed, b_failed = finalB.Failed, b_notifications = rows,
    a_produced = produced["bench-a"], a_notifications = rowsA, a_failed = finalA.Failed,
    drained_after_return_s = Math.Round(drained, 1),
}));

// Jobs done per second, counted as the notifications they wrote (the queue keeps only the last 1000 completed ids).
async Task<double> RateAsync(string t, int seconds)
{
    var start = await NotificationsAsync(t);
    var clock = Stopwatch.StartNew();
    await Task.Delay(TimeSpan.FromSeconds(seconds));
    return (await NotificationsAsync(t) - start) / clock.Elapsed.TotalSeconds;
}

async Task<long> NotificationsAsync(string t)
{
    // Unpooled: the outage terminates B's sessions, a pooled one of ours included.
    await using var connection = new NpgsqlConnection(urls[t] + ";Pooling=false");
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT count(*) FROM notifications", connection);
    return (long)(await command.ExecuteScalarAsync())!;
}

static async Task Exec(NpgsqlConnection connection, string sql)
{
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync();
}

static string ToUrl(string connectionString)
{
    var b = new NpgsqlConnectionStringBuilder(connectionString);
    return $"postgresql://{Uri.EscapeDataString(b.Username ?? "postgres")}:{Uri.EscapeDataString(b.Password ?? "")}@{b.Host}:{b.Port.ToString(CultureInfo.InvariantCulture)}/{b.Database}";
}

static int Int(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var v) ? v : fallback;
