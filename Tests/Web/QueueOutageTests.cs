using System.Net;
using Npgsql;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>What a tenant's web app does when the shared Valkey cannot be reached.</summary>
public sealed class QueueOutageTests(TestServers servers)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task An_upload_that_cannot_be_queued_answers_503_marks_the_import_failed_and_keeps_no_file()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("outage");
        var web = new WebTenant(TwoTenantWebs.A, "admin@tenant-a.test", "signing-key-outage", database);
        // Nothing listens on port 1: every enqueue fails to connect.
        await using var host = ServiceHost.Start("Web", web.Environment("127.0.0.1:1,connectTimeout=500,syncTimeout=1000,asyncTimeout=1000"));
        web.Host = host;
        await WaitUntilAliveAsync(host);
        using var admin = await web.AdminAsync();

        using var content = new ByteArrayContent("""{"cases":[]}"""u8.ToArray());
        using var response = await admin.PostAsync(new Uri("/api/imports?fileName=export.json", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using (var status = new NpgsqlCommand("SELECT status || '|' || coalesce(error, '') FROM imports", connection))
        {
            var row = (string)(await status.ExecuteScalarAsync())!;
            Assert.StartsWith("Failed|The import could not be queued", row, StringComparison.Ordinal);
        }
        await using var objects = new NpgsqlCommand("SELECT count(*) FROM pg_largeobject_metadata", connection);
        Assert.Equal(0L, (long)(await objects.ExecuteScalarAsync())!);
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
