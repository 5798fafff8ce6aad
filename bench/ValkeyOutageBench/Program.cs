using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Domain.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Queue;
using StackExchange.Redis;
using Tenancy;

// Issue 12's "Must show": Valkey killed with -9 for OUTAGE_S (15) seconds during POSTS (1000) result posts. Against
// real processes started here from build output: a redis-server with AOF (appendfsync everysec, as the AppHost runs
// it), the SMTP server of the AppHost (aiosmtpd), one tenant's Web (WEB_DLL) and the Workers (WORKERS_DLL), over a
// database it creates on the server of DATABASE_URL (dropped afterwards). A signed-in administrator posts one result
// to each of POSTS runs at RATE posts/s; a second administrator (emailPreference Immediate) is the recipient of each
// post's notification. KILL_AFTER_S into the posts redis-server gets SIGKILL; OUTAGE_S later it is started again on
// the same port and AOF. When the outbox is empty and no job waits, runs or is delayed, it counts the notifications
// per run and prints one JSON line. Every process it starts is written to WORK_DIR/pids and killed at the end.
var adminUrl = Need("DATABASE_URL");
var webDll = Need("WEB_DLL");
var workersDll = Need("WORKERS_DLL");
var smtpScript = Need("SMTP_SCRIPT");
var workDir = Need("WORK_DIR");
var posts = Int("POSTS", 1000);
var rate = Int("RATE", 25);
var killAfter = TimeSpan.FromSeconds(Int("KILL_AFTER_S", 8));
var outage = TimeSpan.FromSeconds(Int("OUTAGE_S", 15));
var drainTimeout = TimeSpan.FromSeconds(Int("DRAIN_TIMEOUT_S", 300));

const string Tenant = "bench";
const string SigningKey = "signing-key-of-bench";
const string AdminEmail = "admin@bench.test";
const string ColleagueEmail = "colleague@bench.test";
const string Password = "admin-password-1";
var processes = new List<Process>();
var outputs = new ConcurrentDictionary<Process, ConcurrentQueue<string>>();
var pidFile = Path.Combine(workDir, "pids");

var admin = DatabaseConnectionString.FromUrl(adminUrl);
var dbName = "valkey_outage_bench";
await using (var connection = new NpgsqlConnection(admin))
{
    await connection.OpenAsync();
    await Exec(connection, $"DROP DATABASE IF EXISTS {dbName} WITH (FORCE)");
    await Exec(connection, $"CREATE DATABASE {dbName}");
}
var tenantDb = new NpgsqlConnectionStringBuilder(admin) { Database = dbName }.ConnectionString;
var tenantUrl = ToUrl(tenantDb);

var redisPort = FreePort();
var redisDir = Directory.CreateDirectory(Path.Combine(workDir, "redis")).FullName;
var valkeyUrl = $"redis://127.0.0.1:{redisPort.ToString(CultureInfo.InvariantCulture)}";
Process redis = await StartRedisAsync();
var smtpPort = FreePort();
Start("/usr/bin/python3", [smtpScript, smtpPort.ToString(CultureInfo.InvariantCulture), Path.Combine(workDir, "maildir")], new());
var webPort = FreePort();
var workersPort = FreePort();
var web = Start("dotnet", [webDll], new()
{
    ["VALKEY_URL"] = valkeyUrl, ["DATABASE_URL"] = tenantUrl, ["INSTANCE_TENANT_ID"] = Tenant,
    [$"TENANT_{Tenant.ToUpperInvariant()}_SIGNING_KEY"] = SigningKey, ["ADMIN_EMAIL"] = AdminEmail, ["ADMIN_PASSWORD"] = Password,
    ["ASPNETCORE_URLS"] = Url(webPort), ["Logging__LogLevel__Default"] = "Warning",
}, Path.GetDirectoryName(webDll));
var configs = JsonSerializer.Serialize(new Dictionary<string, object>
{
    [Tenant] = new { databaseUrl = tenantUrl, signingKey = SigningKey, baseUrl = Url(webPort) },
});
var workers = Start("dotnet", [workersDll], new()
{
    ["VALKEY_URL"] = valkeyUrl, ["MULTI_TENANT_MODE"] = "true", ["TENANT_CONFIGS"] = configs,
    ["SMTP_HOST"] = "127.0.0.1", ["SMTP_PORT"] = smtpPort.ToString(CultureInfo.InvariantCulture), ["SMTP_SECURITY"] = "None",
    ["ASPNETCORE_URLS"] = Url(workersPort), ["Logging__LogLevel__Default"] = "Warning",
}, Path.GetDirectoryName(workersDll));

try
{
    await WaitHealthyAsync(web, webPort);
    await WaitHealthyAsync(workers, workersPort);

    using var http = new HttpClient(new SocketsHttpHandler { CookieContainer = new CookieContainer(), UseCookies = true, MaxConnectionsPerServer = 256 })
    {
        BaseAddress = new Uri(Url(webPort)),
        Timeout = TimeSpan.FromSeconds(60),
    };
    using (var signIn = (await http.PostAsJsonAsync("/api/account/signin", new { email = AdminEmail, password = Password })).EnsureSuccessStatusCode())
    {
        // Cookie-authenticated posts carry the antiforgery token the sign-in answers with.
        var signedIn = await signIn.Content.ReadFromJsonAsync<JsonElement>();
        http.DefaultRequestHeaders.Add(signedIn.GetProperty("antiforgeryHeader").GetString()!, signedIn.GetProperty("antiforgeryToken").GetString());
    }
    var colleague = await IdAsync(await http.PostAsJsonAsync("/api/users",
        new { email = ColleagueEmail, name = "Second Admin", password = "colleague-password-1", isAdmin = true, emailPreference = "Immediate" }));
    var project = await IdAsync(await http.PostAsJsonAsync("/api/projects", new { name = "Outage" }));
    var caseId = await IdAsync(await http.PostAsJsonAsync($"/api/projects/{project}/cases", new { title = "Pay by card" }));
    // One run per post: a notification links to its run, so each post's notification can be found and counted.
    var runs = new long[posts];
    for (var i = 0; i < posts; i++)
    {
        runs[i] = await IdAsync(await http.PostAsJsonAsync($"/api/projects/{project}/runs", new { name = $"Run {i}" }));
    }

    // The posts, open loop at RATE per second; the outage runs beside them.
    var statuses = new int[posts];
    var latencies = new double[posts];
    var clock = Stopwatch.StartNew();
    var killedAt = TimeSpan.Zero;
    var restartedAt = TimeSpan.Zero;
    var chaos = Task.Run(async () =>
    {
        await Task.Delay(killAfter);
        redis.Kill();
        await redis.WaitForExitAsync();
        killedAt = clock.Elapsed;
        await Task.Delay(outage);
        redis = await StartRedisAsync();
        restartedAt = clock.Elapsed;
    });
    var requests = new List<Task>();
    for (var i = 0; i < posts; i++)
    {
        var due = TimeSpan.FromSeconds(i / (double)rate);
        if (due > clock.Elapsed)
        {
            await Task.Delay(due - clock.Elapsed);
        }
        var n = i;
        requests.Add(Task.Run(async () =>
        {
            var started = clock.Elapsed;
            try
            {
                using var response = await http.PostAsJsonAsync($"/api/runs/{runs[n]}/results",
                    new { results = new[] { new { caseId, status = n % 3 == 0 ? "Failed" : "Passed", elapsedMs = 100 + n } } });
                statuses[n] = (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                statuses[n] = 0;
            }
            latencies[n] = (clock.Elapsed - started).TotalMilliseconds;
        }));
    }
    await Task.WhenAll(requests);
    var postsDone = clock.Elapsed;
    await chaos;

    // Drain: nothing left in the outbox, and no job of the tenant waiting, running or delayed, three polls running.
    var services = new ServiceCollection();
    services.AddLogging();
    services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["MULTI_TENANT_MODE"] = "true", ["TENANT_CONFIGS"] = configs, ["VALKEY_URL"] = valkeyUrl,
    }).Build());
    services.AddTenancy();
    services.AddJobQueueClient();
    await using var provider = services.BuildServiceProvider();
    var queueAdmin = provider.GetRequiredService<IJobQueueAdmin>();
    string[] queues = [QueueNames.Notifications, QueueNames.ForecastUpdates, QueueNames.Emails];
    var quiet = 0;
    long failed = 0;
    while (quiet < 3 && clock.Elapsed - postsDone < drainTimeout)
    {
        await Task.Delay(500);
        long pending = await ScalarAsync("SELECT count(*) FROM job_outbox");
        failed = 0;
        using (TenantScope.Begin(TenantId.Parse(Tenant)))
        {
            foreach (var q in queues)
            {
                try
                {
                    var c = await queueAdmin.GetCountsAsync(q);
                    pending += c.Waiting + c.Active + c.Delayed;
                    failed += c.Failed;
                }
                catch (RedisException)
                {
                    pending++;
                }
            }
        }
        quiet = pending == 0 ? quiet + 1 : 0;
    }
    var seconds = clock.Elapsed.TotalSeconds;

    var ok = statuses.Count(s => s is >= 200 and < 300);
    var expected = runs.Where((_, i) => statuses[i] is >= 200 and < 300).Select(r => $"/runs/{r}").ToHashSet();
    var perLink = new Dictionary<string, long>();
    await using (var connection = new NpgsqlConnection(tenantDb))
    {
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT link, count(*) FROM notifications WHERE user_id = @u GROUP BY link", connection);
        command.Parameters.AddWithValue("u", colleague);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            perLink[reader.GetString(0)] = reader.GetInt64(1);
        }
    }
    var emails = Directory.Exists(Path.Combine(workDir, "maildir", "new")) ? Directory.GetFiles(Path.Combine(workDir, "maildir", "new")).Length : 0;
    var duringOutage = latencies.Where((_, i) => TimeSpan.FromSeconds(i / (double)rate) >= killedAt && TimeSpan.FromSeconds(i / (double)rate) < restartedAt).ToArray();
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        posts,
        posts_2xx = ok,
        non_2xx = posts - ok,
        non_2xx_statuses = statuses.Where(s => s is < 200 or >= 300).GroupBy(s => s).ToDictionary(g => g.Key.ToString(CultureInfo.InvariantCulture), g => g.Count()),
        notifications_expected = expected.Count,
        notifications_found = expected.Count(perLink.ContainsKey),
        duplicates = perLink.Values.Sum(v => v - 1),
        notifications_unexpected = perLink.Keys.Count(k => !expected.Contains(k)),
        emails_delivered = emails,
        failed_jobs = failed,
        drained = quiet >= 3,
        outage_s = Math.Round((restartedAt - killedAt).TotalSeconds, 1),
        posts_during_outage = duringOutage.Length,
        post_ms_p50_during_outage = duringOutage.Length == 0 ? 0 : Math.Round(duringOutage.Order().ElementAt(duringOutage.Length / 2)),
        post_ms_max = Math.Round(latencies.Max()),
        seconds = Math.Round(seconds, 1),
    }));
}
catch
{
    Console.Error.WriteLine("--- web ---\n" + Tail(web) + "\n--- workers ---\n" + Tail(workers));
    throw;
}
finally
{
    foreach (var p in processes)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }
    }
    await using var connection = new NpgsqlConnection(admin);
    await connection.OpenAsync();
    await Exec(connection, $"DROP DATABASE IF EXISTS {dbName} WITH (FORCE)");
}

async Task<Process> StartRedisAsync()
{
    var p = Start("redis-server",
        ["--port", redisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", redisDir,
         "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no"], new());
    var deadline = Stopwatch.StartNew();
    while (true)
    {
        try
        {
            await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redisPort.ToString(CultureInfo.InvariantCulture)},connectTimeout=500");
            await probe.GetDatabase().PingAsync(); // -LOADING while the AOF replays
            return p;
        }
        catch (RedisException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !p.HasExited)
        {
            await Task.Delay(100);
        }
    }
}

Process Start(string file, string[] args, Dictionary<string, string> environment, string? workingDirectory = null)
{
    var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    if (workingDirectory is not null)
    {
        info.WorkingDirectory = workingDirectory;
    }
    foreach (var a in args)
    {
        info.ArgumentList.Add(a);
    }
    info.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    info.Environment["DOTNET_ENVIRONMENT"] = "Development";
    info.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
    foreach (var (k, v) in environment)
    {
        info.Environment[k] = v;
    }
    var process = new Process { StartInfo = info };
    var output = new ConcurrentQueue<string>();
    process.OutputDataReceived += (_, e) => Keep(output, e.Data);
    process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
    process.Start();
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    outputs[process] = output;
    processes.Add(process);
    File.AppendAllText(pidFile, process.Id.ToString(CultureInfo.InvariantCulture) + "\n");
    return process;
}

async Task WaitHealthyAsync(Process process, int port)
{
    using var probe = new HttpClient { BaseAddress = new Uri(Url(port)), Timeout = TimeSpan.FromSeconds(2) };
    var clock = Stopwatch.StartNew();
    while (true)
    {
        if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(120))
        {
            throw new InvalidOperationException($"{process.StartInfo.ArgumentList[0]} did not become healthy:\n{Tail(process)}");
        }
        try
        {
            using var response = await probe.GetAsync("/health");
            if (response.IsSuccessStatusCode)
            {
                return;
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
        }
        await Task.Delay(200);
    }
}

async Task<long> ScalarAsync(string sql)
{
    await using var connection = new NpgsqlConnection(tenantDb);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
}

static void Keep(ConcurrentQueue<string> output, string? line)
{
    if (line is null)
    {
        return;
    }
    output.Enqueue(line);
    while (output.Count > 200)
    {
        output.TryDequeue(out _);
    }
}

string Tail(Process process) => outputs.TryGetValue(process, out var o) ? string.Join('\n', o) : "";

static async Task<long> IdAsync(HttpResponseMessage response)
{
    using (response)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{(int)response.StatusCode}: {body}");
        }
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt64();
    }
}

static async Task Exec(NpgsqlConnection connection, string sql)
{
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync();
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static string Url(int port) => $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";

static string ToUrl(string connectionString)
{
    var b = new NpgsqlConnectionStringBuilder(connectionString);
    return $"postgresql://{Uri.EscapeDataString(b.Username ?? "postgres")}:{Uri.EscapeDataString(b.Password ?? "")}@{b.Host}:{b.Port.ToString(CultureInfo.InvariantCulture)}/{b.Database}";
}

static string Need(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : throw new InvalidOperationException($"Set {name}.");

static int Int(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var v) ? v : fallback;

