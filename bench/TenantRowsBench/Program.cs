// What the Aspire dashboard's tenant rows cost Valkey: the AppHost's TenantBoard refreshed every REFRESH_S seconds
// (default 3) for TENANTS tenants (default 100) over DURATION_S seconds (default 30), against the Valkey of VALKEY_URL.
// Prints one JSON line: commands/s as clients send them (INFO stats total_commands_processed) and as Valkey executes
// them, commands inside scripts included (the sum of INFO commandstats calls), both minus this program's own INFO calls.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Hosting.Tenants;
using Microsoft.Extensions.DependencyInjection;
using Queue;
using StackExchange.Redis;
using Tenancy;

var url = Environment.GetEnvironmentVariable("VALKEY_URL") ?? "valkey://127.0.0.1:6379";
var tenantCount = int.Parse(Environment.GetEnvironmentVariable("TENANTS") ?? "100", CultureInfo.InvariantCulture);
var refresh = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("REFRESH_S") ?? "3", CultureInfo.InvariantCulture));
var duration = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("DURATION_S") ?? "30", CultureInfo.InvariantCulture));
string[] queues = ["notifications", "emails", "forecast-updates", "issue-sync", "elasticsearch-reindex", "testmo-imports"];

var options = ValkeyConnection.Parse(url);
var adminOptions = options.Clone();
adminOptions.AllowAdmin = true;
await using var admin = await ConnectionMultiplexer.ConnectAsync(adminOptions);
var server = admin.GetServer(admin.GetEndPoints()[0]);
await using var services = new ServiceCollection()
    .AddLogging()
    .AddJobQueueOperator(o => o.ConnectionString = options.ToString(includePassword: true))
    .BuildServiceProvider();
var board = new TenantBoard(services.GetRequiredService<IJobQueueOperator>(), queues, new TenantThresholds(), TimeProvider.System);
var tenants = Enumerable.Range(0, tenantCount).Select(i => TenantId.Parse($"tenant-{i:000}")).ToList();

await board.RefreshAsync(tenants, CancellationToken.None); // scripts loaded, connections open
var (sentBefore, executedBefore) = await StatsAsync(server);
var refreshes = 0;
var watch = Stopwatch.StartNew();
var latencies = new List<double>();
while (watch.Elapsed < duration)
{
    var started = watch.Elapsed;
    await board.RefreshAsync(tenants, CancellationToken.None);
    latencies.Add((watch.Elapsed - started).TotalMilliseconds);
    refreshes++;
    var next = started + refresh;
    if (next > watch.Elapsed)
    {
        await Task.Delay(next - watch.Elapsed);
    }
}
var seconds = watch.Elapsed.TotalSeconds;
var (sentAfter, executedAfter) = await StatsAsync(server);
// Each StatsAsync sends two INFO commands of its own.
var sent = sentAfter - sentBefore - 2;
var executed = executedAfter - executedBefore - 2;
latencies.Sort();
Console.WriteLine(JsonSerializer.Serialize(new
{
    tenants = tenantCount,
    queues = queues.Length,
    refresh_s = refresh.TotalSeconds,
    refreshes,
    commands_sent_per_s = Math.Round(sent / seconds, 1),
    commands_executed_per_s = Math.Round(executed / seconds, 1),
    refresh_ms_p50 = Math.Round(latencies[latencies.Count / 2], 1),
    refresh_ms_max = Math.Round(latencies[^1], 1),
}));

static async Task<(long Sent, long Executed)> StatsAsync(IServer server)
{
    var stats = await server.InfoAsync("stats");
    var sent = long.Parse(stats.SelectMany(g => g).First(p => p.Key == "total_commands_processed").Value, CultureInfo.InvariantCulture);
    var commandstats = await server.InfoAsync("commandstats");
    // cmdstat_<name>: calls=N,usec=...
    var executed = commandstats.SelectMany(g => g)
        .Select(p => p.Value.Split(',')[0])
        .Where(v => v.StartsWith("calls=", StringComparison.Ordinal))
        .Sum(v => long.Parse(v["calls=".Length..], CultureInfo.InvariantCulture));
    return (sent, executed);
}
