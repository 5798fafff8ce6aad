using System.Net;
using System.Text.Json;
using Domain.Jobs;

namespace Tests.Web;

/// <summary>
/// Pages answer people: a 404 or 403 of a page is the site's own page, in its layout, with the status code and a way
/// back; the API keeps answering problem+json.
/// </summary>
public sealed class ErrorPagesTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    [Fact]
    public async Task Tenant_b_opening_tenant_a_project_url_gets_the_not_found_page_in_its_own_layout_with_404()
    {
        using var adminA = await webs.WebA.AdminAsync();
        using var adminB = await webs.WebB.AdminAsync();
        var project = await ProjectOfAThatBDoesNotHaveAsync(adminA, adminB);

        using var response = await adminB.GetAsync(new Uri($"/projects/{project}", UriKind.Relative));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>Not found · tenant-b</title>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"tenant\" title=\"Tenant\">tenant-b</span>", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/admin/queues\">Job Queues</a>", html, StringComparison.Ordinal);
        Assert.Contains("<h1>Not found</h1>", html, StringComparison.Ordinal);
        Assert.Contains("it may belong to another tenant", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/projects\">Back to Projects</a>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tenant_b_opening_tenant_a_job_url_gets_the_not_found_page_with_404()
    {
        using var adminA = await webs.WebA.AdminAsync();
        using var adminB = await webs.WebB.AdminAsync();
        var project = await adminA.CreateProjectAsync();
        await adminA.CreateIntegrationAsync(project);
        using (var sync = await adminA.PostAsync(new Uri($"/api/projects/{project}/sync-issues", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, sync.StatusCode);
        }
        var job = Assert.Single(await webs.JobsAsync<SyncProjectIssuesPayload>(TwoTenantWebs.A, QueueNames.IssueSync, JobNames.SyncProjectIssues, p => p.ProjectId == project)).Job.Id;

        using var response = await adminB.GetAsync(new Uri($"/admin/queues/{QueueNames.IssueSync}/jobs/{job}", UriKind.Relative));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("<span class=\"tenant\" title=\"Tenant\">tenant-b</span>", html, StringComparison.Ordinal);
        Assert.Contains("<h1>Not found</h1>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_no_page_has_gets_the_not_found_page_with_404()
    {
        using var admin = await webs.WebA.AdminAsync();

        using var response = await admin.GetAsync(new Uri("/no/such/page", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("<h1>Not found</h1>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/projects/{0}")]
    [InlineData("/api/no/such/endpoint")]
    public async Task The_api_keeps_answering_problem_json_for_what_it_does_not_have(string path)
    {
        using var adminA = await webs.WebA.AdminAsync();
        using var adminB = await webs.WebB.AdminAsync();
        var project = await ProjectOfAThatBDoesNotHaveAsync(adminA, adminB);

        using var response = await adminB.GetAsync(new Uri(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, project), UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(404, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetInt32());
    }

    /// <summary>A project of tenant A whose id tenant B has no project under (ids are per database, so they can coincide).</summary>
    private static async Task<long> ProjectOfAThatBDoesNotHaveAsync(HttpClient adminA, HttpClient adminB)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var project = await adminA.CreateProjectAsync();
            using var atB = await adminB.GetAsync(new Uri($"/api/projects/{project}", UriKind.Relative));
            if (atB.StatusCode == HttpStatusCode.NotFound)
            {
                return project;
            }
        }
        throw new Xunit.Sdk.XunitException("Every project of tenant A has a namesake id at tenant B.");
    }
}
