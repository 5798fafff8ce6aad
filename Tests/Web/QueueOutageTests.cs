using System.Net;
using System.Text.Json;
using Domain.Jobs;
using JobNames = Domain.Jobs.JobNames;
using Microsoft.Extensions.DependencyInjection;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>What a tenant's web app does when the shared Valkey cannot be reached.</summary>
public sealed class QueueOutageTests(TestServers servers)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task An_upload_while_Valkey_is_down_is_accepted_and_its_import_job_is_queued_once_Valkey_is_back()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("outage");
        await using var valkey = await KillableRedis.StartAsync("everysec");
        var web = new WebTenant(TwoTenantWebs.A, "admin@tenant-a.test", "signing-key-outage", database);
        await using var host = ServiceHost.Start("Web", web.Environment(valkey.ConnectionString));
        web.Host = host;
        await WaitUntilAliveAsync(host);
        using var admin = await web.AdminAsync();
        await valkey.KillAsync();

        using var content = new ByteArrayContent("""{"cases":[]}"""u8.ToArray());
        using var response = await admin.PostAsync(new Uri("/api/imports?fileName=export.json", UriKind.Relative), content);

        // Rule 8: the import row, its file and its job are one write; the job waits in the outbox for Valkey.
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var importId = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt64();
        Assert.Equal(1L, await web.ScalarAsync($"SELECT count(*) FROM imports WHERE id = {importId} AND status = 'Pending' AND upload_oid IS NOT NULL"));
        Assert.Equal(1L, await web.ScalarAsync("SELECT count(*) FROM pg_largeobject_metadata"));
        Assert.Equal(1L, await web.ScalarAsync("SELECT count(*) FROM job_outbox WHERE job_name = 'import'"));

        await valkey.RestartAsync();
        await Wait.UntilAsync(async () => await web.ScalarAsync("SELECT count(*) FROM job_outbox") == 0, "the outbox is relayed once Valkey is back");
        await using var reader = TwoTenantWebs.QueueReader(valkey.ConnectionString, web);
        var queued = new List<JobDetails>();
        using (TenantScope.Begin(web.Id))
        {
            var queueAdmin = reader.GetRequiredService<IJobQueueAdmin>();
            foreach (var state in Enum.GetValues<JobState>())
            {
                queued.AddRange(await queueAdmin.GetJobsAsync(QueueNames.TestmoImports, state, 0, 100));
            }
        }
        var job = Assert.Single(queued);
        Assert.Equal((JobNames.Import, JobState.Waiting), (job.Name, job.State));
        Assert.Equal(importId, JsonDocument.Parse(job.Payload).RootElement.GetProperty("importId").GetInt64());
    }

    private static async Task WaitUntilAliveAsync(ServiceHost host)
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            Assert.False(host.HasExited, host.Output);
            try
            {
                if ((await http.GetAsync(new Uri("/alive", UriKind.Relative))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            Assert.True(DateTime.UtcNow < deadline, "The web app did not come up:\n" + host.Output);
            await Task.Delay(100);
        }
    }
}
