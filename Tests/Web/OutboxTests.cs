using System.Net.Http.Json;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>Rule 8 under chaos: results recorded while Valkey is killed lose none of their jobs.</summary>
public sealed class OutboxTests(TestServers servers)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private const int Posts = 40;

    [Fact]
    public async Task Valkey_killed_during_result_posts_every_post_succeeds_and_each_posts_jobs_are_queued_exactly_once()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("outbox");
        await using var valkey = await KillableRedis.StartAsync("everysec");
        var web = new WebTenant(TwoTenantWebs.A, "admin@tenant-a.test", "signing-key-outbox", database);
        await using var host = ServiceHost.Start("Web", web.Environment(valkey.ConnectionString));
        web.Host = host;
        await host.WaitUntilHealthyAsync(StartTimeout);
        using var admin = await web.AdminAsync();
        using var member = await web.MemberAsync(admin);
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var run = await admin.CreateRunAsync(project);

        var statuses = new List<int>();
        for (var i = 0; i < Posts; i++)
        {
            if (i == 10)
            {
                await valkey.KillAsync();
            }
            if (i == 30)
            {
                await valkey.RestartAsync();
            }
            using var response = await member.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative),
                new { results = new[] { new { caseId = testCase, status = i % 2 == 0 ? "Passed" : "Failed" } } });
            statuses.Add((int)response.StatusCode);
        }

        Assert.All(statuses, s => Assert.InRange(s, 200, 299));
        await Wait.UntilAsync(async () => await web.ScalarAsync("SELECT count(*) FROM job_outbox") == 0, "the outbox is relayed");
        await using var redis = await valkey.ConnectAsync();
        var db = redis.GetDatabase();
        Assert.Equal(Posts, await db.ListLengthAsync("aq:{forecast-updates}:t:tenant-a:wait"));
        Assert.Equal(Posts, await db.ListLengthAsync("aq:{notifications}:t:tenant-a:wait"));
        Assert.Equal(Posts, await web.ScalarAsync("SELECT count(*) FROM test_results"));
    }
}
