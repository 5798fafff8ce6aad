using System.Globalization;
using System.Net;
using Hosting;
using Npgsql;
using StackExchange.Redis;

namespace Tests.Hosting;

/// <summary>The AppHost's topology, started for real by the testing builder: servers, tenant webs, workers, scheduler.</summary>
public sealed class RunModeTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Two_tenants_boot_healthy_answer_with_their_own_credentials_and_leave_no_process_behind()
    {
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"]);
        var app = builder.Build();
        List<int> processIds;
        try
        {
            await app.StartAsync(TestContext.Current.CancellationToken);
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken))
            {
                timeout.CancelAfter(StartTimeout);
                await app.WaitForAllHealthyAsync(timeout.Token);
            }

            using var http = app.CreateHttpClient("web-tenant-a");
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);

            await using (var valkey = await ConnectionMultiplexer.ConnectAsync(await app.GetConnectionStringAsync("valkey")))
            {
                Assert.True(await valkey.GetDatabase().PingAsync() < TimeSpan.FromSeconds(5));
            }

            var tenantA = new NpgsqlConnectionStringBuilder(await app.GetConnectionStringAsync("db-tenant-a")) { Pooling = false };
            await using (var connection = new NpgsqlConnection(tenantA.ConnectionString))
            {
                await connection.OpenAsync(TestContext.Current.CancellationToken);
                await using var who = new NpgsqlCommand("SELECT current_user || '@' || current_database()", connection);
                Assert.Equal("tenant_a@tenant_a", await who.ExecuteScalarAsync(TestContext.Current.CancellationToken));
            }

            // A tenant's role cannot open another tenant's database.
            await using (var trespass = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(tenantA.ConnectionString) { Database = "tenant_b" }.ConnectionString))
            {
                var denied = await Assert.ThrowsAsync<PostgresException>(() => trespass.OpenAsync(TestContext.Current.CancellationToken));
                Assert.Equal("42501", denied.SqlState);
            }

            processIds = app.GetResourceStates().SelectMany(s => s.ProcessIds).ToList();
            Assert.True(processIds.Count >= 7, app.ResourceTable());
        }
        finally
        {
            await app.DisposeAsync();
        }

        Assert.All(processIds, pid => Assert.False(IsAlive(pid), $"process {pid} is still alive"));
        Assert.Empty(ProcessesMentioning(scope.StateDirectory));
    }

    [Fact]
    public async Task Each_resource_starts_only_after_what_it_waits_for_is_healthy()
    {
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a"]);
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(StartTimeout);
        await app.WaitForResourceHealthyAsync("scheduler", timeout.Token);
        await app.WaitForResourceHealthyAsync("web-tenant-a", timeout.Token);
        await app.WaitForResourceHealthyAsync("workers", timeout.Token);

        var lines = scope.Lines.ToList();
        int At(string text) => lines.FindIndex(l => l.EndsWith(text, StringComparison.Ordinal));
        Assert.True(At("valkey: Healthy") < At("scheduler: Starting"));
        Assert.True(At("db-tenant-a: Healthy") < At("web-tenant-a: Starting"));
        Assert.True(At("valkey: Healthy") < At("web-tenant-a: Starting"));
        Assert.True(At("postgres: Healthy") < At("workers: Starting"));
        Assert.True(At("smtp: Healthy") < At("workers: Starting"));
        Assert.Contains(lines, l => l.StartsWith("web-tenant-a ", StringComparison.Ordinal) && l.Contains("Now listening on", StringComparison.Ordinal));
    }

    private static bool IsAlive(int pid)
    {
        var stat = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";
        try
        {
            // A zombie has exited; only its parent's bookkeeping is left.
            return File.Exists(stat) && !File.ReadAllText(stat).Split(')')[^1].TrimStart().StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static List<string> ProcessesMentioning(string text) =>
        Directory.GetDirectories("/proc")
            .Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Select(d =>
            {
                try
                {
                    return File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
                }
                catch (IOException)
                {
                    return string.Empty;
                }
                catch (UnauthorizedAccessException)
                {
                    return string.Empty;
                }
            })
            .Where(cmdline => cmdline.Contains(text, StringComparison.Ordinal))
            .ToList();
}
