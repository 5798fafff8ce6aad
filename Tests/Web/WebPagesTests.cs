using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Domain.Jobs;

namespace Tests.Web;

/// <summary>The server-rendered pages, read the way a browser without JavaScript reads them.</summary>
public sealed class WebPagesTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    private WebTenant A => webs.WebA;

    [Fact]
    public async Task Every_page_renders_for_an_admin_with_the_tenant_and_the_user_in_the_layout()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync("Pages project");
        var testCase = await admin.CreateCaseAsync(project, "Pages case");
        var run = await admin.CreateRunAsync(project);
        var integration = await admin.CreateIntegrationAsync(project);
        using (await admin.PostAsJsonAsync(new Uri($"/api/cases/{testCase}/issues", UriKind.Relative), new { integrationId = integration, key = "QA-1" }))
        {
        }
        using var sync = await admin.PostAsync(new Uri($"/api/projects/{project}/sync-issues", UriKind.Relative), null);
        var job = Assert.Single(await webs.JobsAsync<SyncProjectIssuesPayload>(TwoTenantWebs.A, QueueNames.IssueSync, JobNames.SyncProjectIssues, p => p.ProjectId == project)).Job.Id;
        var pages = new (string Path, string Shows)[]
        {
            ("/projects", "Pages project"),
            ($"/projects/{project}", "Pages case"),
            ($"/cases/{testCase}", "QA-1"),
            ($"/runs/{run}", "Record results"),
            ("/notifications", "Notifications"),
            ("/search?q=Pages", "<mark>Pages</mark> case"),
            ("/imports", "Testmo imports"),
            ("/admin/queues", "elasticsearch-reindex"),
            ("/admin/queues/issue-sync/Waiting", job),
            ($"/admin/queues/issue-sync/jobs/{job}", $"&quot;projectId&quot;: {project}"),
            ("/admin/users", A.AdminEmail),
            ("/admin/tokens", "New token"),
            ("/admin/reindex", "nothing to reindex"),
        };

        foreach (var (path, shows) in pages)
        {
            using var response = await admin.GetAsync(new Uri(path, UriKind.Relative));
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}\n{html}");
            Assert.Contains(shows, html, StringComparison.Ordinal);
            Assert.Contains("<span class=\"tenant\" title=\"Tenant\">tenant-a</span>", html, StringComparison.Ordinal);
            Assert.Contains("Administrator", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_job_id_this_tenant_does_not_have_is_not_found_on_the_job_page()
    {
        using var admin = await A.AdminAsync();

        using var response = await admin.GetAsync(new Uri("/admin/queues/emails/jobs/no-such-job", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Creating_a_project_with_an_empty_name_on_the_page_shows_the_error_next_to_the_field_and_writes_nothing()
    {
        using var admin = await A.AdminAsync();
        var form = await admin.GetStringAsync(new Uri("/projects", UriKind.Relative));
        var before = await A.ScalarAsync("SELECT count(*) FROM projects");

        using var response = await admin.PostAsync(new Uri("/projects", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Input.Name"] = "",
            ["__RequestVerificationToken"] = WebAccessTests.AntiforgeryToken().Match(form).Groups[1].Value,
        }));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches("<span class=\"field-validation-error\" data-valmsg-for=\"Input.Name\"[^>]*>The Name field is required.</span>", html);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM projects"));
    }

    [Fact]
    public async Task Recording_a_negative_elapsed_time_on_the_run_page_shows_the_error_in_its_row_keeps_what_was_chosen_and_records_nothing()
    {
        using var admin = await A.AdminAsync();
        var (run, testCase) = await admin.CreateRunOfOneCaseAsync();
        var form = await admin.GetStringAsync(new Uri($"/runs/{run}", UriKind.Relative));

        using var response = await admin.PostAsync(new Uri($"/runs/{run}?handler=Record", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Record[0].CaseId"] = testCase.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Record[0].CaseTitle"] = "The case",
            ["Record[0].Status"] = "Blocked",
            ["Record[0].ElapsedSeconds"] = "-1",
            ["Record[0].Comment"] = "Waited for the build",
            ["__RequestVerificationToken"] = WebAccessTests.AntiforgeryToken().Match(form).Groups[1].Value,
        }));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches("<span class=\"field-validation-error\" data-valmsg-for=\"Record\\[0\\].ElapsedSeconds\"[^>]*>Elapsed time must be between 0 and 10,000,000 seconds.</span>", html);
        Assert.Matches("<option selected=\"selected\" value=\"Blocked\">Blocked</option>", html);
        Assert.Contains("value=\"-1\"", html, StringComparison.Ordinal);
        Assert.Contains("value=\"Waited for the build\"", html, StringComparison.Ordinal);
        Assert.Equal(0, await A.ScalarAsync($"SELECT count(*) FROM test_results WHERE run_id = {run}"));
    }
}
