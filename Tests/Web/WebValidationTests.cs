using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tests.Web;

/// <summary>Bad input gets a 400 problem-details body naming the field, and nothing is written.</summary>
public sealed class WebValidationTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    private WebTenant A => webs.WebA;

    private WebTenant B => webs.WebB;

    [Fact]
    public async Task Creating_a_project_without_a_name_is_refused_naming_name()
    {
        using var admin = await A.AdminAsync();
        var before = await A.ScalarAsync("SELECT count(*) FROM projects");

        using var response = await admin.PostAsJsonAsync(new Uri("/api/projects", UriKind.Relative), new { description = "no name" });

        Assert.Contains("name", await WebApi.ProblemFieldsAsync(response), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM projects"));
    }

    [Fact]
    public async Task Recording_a_result_for_a_case_of_another_project_is_refused_naming_its_case_id_and_records_nothing()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var own = await admin.CreateCaseAsync(project);
        var foreign = await admin.CreateCaseAsync(await admin.CreateProjectAsync());
        var run = await admin.CreateRunAsync(project);
        var before = await A.ScalarAsync("SELECT count(*) FROM test_results");

        using var response = await admin.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative), new
        {
            results = new[] { new { caseId = own, status = "Passed" }, new { caseId = foreign, status = "Failed" } },
        });

        Assert.Equal(["results[1].caseId"], await WebApi.ProblemFieldsAsync(response));
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM test_results"));
    }

    [Fact]
    public async Task Recording_a_negative_elapsed_time_is_refused_naming_it_and_records_nothing()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var run = await admin.CreateRunAsync(project);

        using var response = await admin.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative), new
        {
            results = new[] { new { caseId = testCase, status = "Passed", elapsedMs = -5 } },
        });

        Assert.Equal(["results[0].elapsedMs"], await WebApi.ProblemFieldsAsync(response));
        Assert.Equal(0, await A.ScalarAsync($"SELECT count(*) FROM test_results WHERE run_id = {run}"));
    }

    [Fact]
    public async Task Recording_a_result_without_a_status_is_refused_naming_it_rather_than_recording_a_pass()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var run = await admin.CreateRunAsync(project);

        using var response = await admin.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative), new
        {
            results = new object[] { new { caseId = testCase, status = "Passed" }, new { caseId = testCase } },
        });

        Assert.Equal(["results[1].status"], await WebApi.ProblemFieldsAsync(response));
        Assert.Equal(0, await A.ScalarAsync($"SELECT count(*) FROM test_results WHERE run_id = {run}"));
    }

    [Fact]
    public async Task An_entity_type_reindex_without_an_entity_type_is_refused_naming_entityType()
    {
        using var admin = await A.AdminAsync();

        using var response = await admin.PostAsJsonAsync(new Uri("/api/admin/reindex", UriKind.Relative), new { scope = "EntityType" });

        Assert.Equal(["entityType"], await WebApi.ProblemFieldsAsync(response));
    }

    [Fact]
    public async Task Linking_an_issue_without_a_key_is_refused_naming_key_and_links_nothing()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var integration = await admin.CreateIntegrationAsync(project);
        var before = await A.ScalarAsync("SELECT count(*) FROM external_issues");

        using var response = await admin.PostAsJsonAsync(new Uri($"/api/cases/{testCase}/issues", UriKind.Relative), new { integrationId = integration });

        Assert.Contains("key", await WebApi.ProblemFieldsAsync(response), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM external_issues"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_upload_over_the_limit_is_refused_and_leaves_no_import_and_no_large_object(bool declaresLength)
    {
        using var admin = await B.AdminAsync();
        var importsBefore = await B.ScalarAsync("SELECT count(*) FROM imports");
        var objectsBefore = await B.ScalarAsync("SELECT count(*) FROM pg_largeobject_metadata");
        var bytes = WebEnqueueTests.Export((int)TwoTenantWebs.TenantBImportMaxBytes * 20 + 1);
        using HttpContent content = declaresLength ? new ByteArrayContent(bytes) : new StreamContent(new UnknownLengthStream(bytes));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        using var response = await admin.PostAsync(new Uri("/api/imports?fileName=huge.json", UriKind.Relative), content);

        Assert.Equal(["file"], await WebApi.ProblemFieldsAsync(response));
        Assert.Equal(importsBefore, await B.ScalarAsync("SELECT count(*) FROM imports"));
        Assert.Equal(objectsBefore, await B.ScalarAsync("SELECT count(*) FROM pg_largeobject_metadata"));
    }

    /// <summary>A body sent chunked, so the server cannot refuse it by its declared length and must count while streaming.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
