using System.Net;
using Npgsql;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>When something the app needs fails, a page still answers with the site's own error page in its layout.</summary>
public sealed class ErrorPagesOutageTests(TestServers servers)
{
    [Fact]
    public async Task A_page_that_needs_the_job_queue_while_valkey_is_down_answers_503_in_the_layout()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "error-page-valkey");
        using var admin = await own.Web.AdminAsync();

        await own.Valkey.KillAsync();
        using var response = await admin.GetAsync(new Uri("/admin/queues", UriKind.Relative));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("<h1>Temporarily unavailable</h1>", html, StringComparison.Ordinal);
        Assert.Contains("The job queue cannot be reached just now.", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"tenant\" title=\"Tenant\">tenant-a</span>", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/projects\">Back to Projects</a>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_page_that_fails_unexpectedly_answers_500_in_the_layout_with_the_trace_id_and_no_details()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "error-page-500");
        using var admin = await own.Web.AdminAsync();
        // The projects table gone from under the app: its query fails as no page expects.
        await ExecuteAsync(own.Web, "ALTER TABLE projects RENAME TO projects_away");
        try
        {
            using var response = await admin.GetAsync(new Uri("/projects", UriKind.Relative));

            var html = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Contains("<h1>Something went wrong</h1>", html, StringComparison.Ordinal);
            Assert.Matches("<code id=\"trace-id\">[0-9a-f]{32}</code>", html);
            Assert.Contains("<span class=\"tenant\" title=\"Tenant\">tenant-a</span>", html, StringComparison.Ordinal);
            Assert.DoesNotContain("projects_away", html, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", html, StringComparison.Ordinal);
        }
        finally
        {
            await ExecuteAsync(own.Web, "ALTER TABLE projects_away RENAME TO projects");
        }
    }

    private static async Task ExecuteAsync(WebTenant web, string sql)
    {
        await using var connection = new NpgsqlConnection(web.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
