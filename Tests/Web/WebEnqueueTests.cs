using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Domain.Jobs;

namespace Tests.Web;

/// <summary>Every action of the web app hands the right job, stamped with the app's own tenant, to the workers.</summary>
public sealed class WebEnqueueTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    private WebTenant A => webs.WebA;

    [Fact]
    public async Task Recording_results_enqueues_a_forecast_update_for_each_affected_case_of_the_tenant()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var cases = new[] { await admin.CreateCaseAsync(project), await admin.CreateCaseAsync(project), await admin.CreateCaseAsync(project) };
        var run = await admin.CreateRunAsync(project);

        using var response = await admin.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative), new
        {
            results = new object[]
            {
                new { caseId = cases[0], status = "Passed", elapsedMs = 1200 },
                new { caseId = cases[1], status = "Failed", elapsedMs = 800 },
                new { caseId = cases[0], status = "Retest" },
            },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var jobs = await webs.JobsAsync<UpdateCaseForecastPayload>(TwoTenantWebs.A, QueueNames.ForecastUpdates, JobNames.UpdateCaseForecast, p => cases.Contains(p.CaseId));
        Assert.Equal([cases[0], cases[1]], jobs.Select(j => j.Payload.CaseId).Order());
        Assert.All(jobs, j => Assert.Equal("tenant-a", j.Job.Tenant));
    }

    [Fact]
    public async Task Recording_results_enqueues_one_notification_for_the_runs_creator_and_admins_but_not_the_recorder()
    {
        using var admin = await A.AdminAsync();
        using var member = await A.MemberAsync(admin);
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var run = await admin.CreateRunAsync(project);
        var adminId = (await admin.GetFromJsonAsync<JsonElement>(new Uri("/api/account/me", UriKind.Relative))).GetProperty("id").GetInt64();
        var memberId = (await member.GetFromJsonAsync<JsonElement>(new Uri("/api/account/me", UriKind.Relative))).GetProperty("id").GetInt64();

        using var response = await member.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative),
            new { results = new[] { new { caseId = testCase, status = "Failed" } } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var link = $"/runs/{run}";
        var (job, payload) = Assert.Single(await webs.JobsAsync<CreateNotificationPayload>(TwoTenantWebs.A, QueueNames.Notifications, JobNames.CreateNotification, p => p.Link == link));
        Assert.Equal("tenant-a", job.Tenant);
        Assert.Contains(adminId, payload.UserIds);
        Assert.DoesNotContain(memberId, payload.UserIds);
        Assert.Equal("results-failed", payload.Kind);
    }

    [Fact]
    public async Task Linking_an_issue_enqueues_sync_issue_for_it()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var integration = await admin.CreateIntegrationAsync(project);

        var issue = await WebApi.IdOfAsync(await admin.PostAsJsonAsync(new Uri($"/api/cases/{testCase}/issues", UriKind.Relative), new { integrationId = integration, key = "qa-17" }));

        var (job, _) = Assert.Single(await webs.JobsAsync<SyncIssuePayload>(TwoTenantWebs.A, QueueNames.IssueSync, JobNames.SyncIssue, p => p.IssueId == issue));
        Assert.Equal("tenant-a", job.Tenant);
        var linked = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/cases/{testCase}", UriKind.Relative));
        Assert.Equal("QA-17", linked.GetProperty("issues")[0].GetProperty("key").GetString());
    }

    [Fact]
    public async Task Refreshing_a_linked_issue_enqueues_another_sync_issue_for_it()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var testCase = await admin.CreateCaseAsync(project);
        var integration = await admin.CreateIntegrationAsync(project);
        var issue = await WebApi.IdOfAsync(await admin.PostAsJsonAsync(new Uri($"/api/cases/{testCase}/issues", UriKind.Relative), new { integrationId = integration, key = "QA-18" }));

        using var response = await admin.PostAsync(new Uri($"/api/issues/{issue}/refresh", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobs = await webs.JobsAsync<SyncIssuePayload>(TwoTenantWebs.A, QueueNames.IssueSync, JobNames.SyncIssue, p => p.IssueId == issue);
        Assert.Equal(2, jobs.Count);
        Assert.All(jobs, j => Assert.Equal("tenant-a", j.Job.Tenant));
    }

    [Fact]
    public async Task Syncing_a_project_enqueues_sync_project_issues_for_it()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        await admin.CreateIntegrationAsync(project);

        using var response = await admin.PostAsync(new Uri($"/api/projects/{project}/sync-issues", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var (job, _) = Assert.Single(await webs.JobsAsync<SyncProjectIssuesPayload>(TwoTenantWebs.A, QueueNames.IssueSync, JobNames.SyncProjectIssues, p => p.ProjectId == project));
        Assert.Equal("tenant-a", job.Tenant);
    }

    [Theory]
    [InlineData("All", null, false, 250)]
    [InlineData("EntityType", "runs", false, 100)]
    [InlineData("Project", null, true, 50)]
    public async Task Reindex_of_a_tenant_with_elasticsearch_enqueues_a_reindex_job_with_the_requested_scope_and_batch_size(string scope, string? entityType, bool ofProject, int batchSize)
    {
        using var admin = await webs.WebB.AdminAsync();
        long? project = ofProject ? await admin.CreateProjectAsync() : null;

        using var response = await admin.PostAsJsonAsync(new Uri("/api/admin/reindex", UriKind.Relative), new { scope, entityType, projectId = project, batchSize });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString();
        var job = Assert.Single(await webs.JobsAsync(TwoTenantWebs.B, QueueNames.ElasticsearchReindex), j => j.Id == jobId);
        Assert.Equal("tenant-b", job.Tenant);
        Assert.Equal(JobNames.Reindex, job.Name);
        var payload = JsonSerializer.Deserialize<ReindexPayload>(job.Payload, JsonSerializerOptions.Web)!;
        Assert.Equal(Enum.Parse<ReindexScope>(scope), payload.Scope);
        Assert.Equal(entityType, payload.EntityType);
        Assert.Equal(project, payload.ProjectId);
        Assert.Equal(batchSize, payload.BatchSize);
    }

    [Fact]
    public async Task Uploading_a_raw_testmo_export_stores_exactly_its_bytes_and_enqueues_import()
    {
        using var admin = await A.AdminAsync();
        var bytes = Export(3 * 1024 * 1024 + 17);
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        using var response = await admin.PostAsync(new Uri("/api/imports?fileName=export.json", UriKind.Relative), content);

        var import = await WebApi.IdOfAsync(response);
        await AssertStoredAndEnqueuedAsync(import, "export.json", bytes);
    }

    [Fact]
    public async Task Uploading_a_multipart_testmo_export_stores_exactly_its_bytes_and_enqueues_import()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var bytes = Export(2 * 1024 * 1024 + 5);
        using var form = new MultipartFormDataContent
        {
            { new StringContent(project.ToString(System.Globalization.CultureInfo.InvariantCulture)), "projectId" },
            { new ByteArrayContent(bytes), "file", "testmo-export.json" },
        };

        using var response = await admin.PostAsync(new Uri("/api/imports", UriKind.Relative), form);

        var import = await WebApi.IdOfAsync(response);
        await AssertStoredAndEnqueuedAsync(import, "testmo-export.json", bytes);
        Assert.Equal(project, await A.ScalarAsync($"SELECT project_id FROM imports WHERE id = {import}"));
    }

    private async Task AssertStoredAndEnqueuedAsync(long import, string fileName, byte[] bytes)
    {
        Assert.Equal(bytes, await A.LargeObjectOfImportAsync(import));
        Assert.Equal(bytes.Length, await A.ScalarAsync($"SELECT size_bytes FROM imports WHERE id = {import}"));
        Assert.Equal(1, await A.ScalarAsync($"SELECT count(*) FROM imports WHERE id = {import} AND file_name = '{fileName}' AND status = 'Pending'"));
        var (job, _) = Assert.Single(await webs.JobsAsync<ImportPayload>(TwoTenantWebs.A, QueueNames.TestmoImports, JobNames.Import, p => p.ImportId == import));
        Assert.Equal("tenant-a", job.Tenant);
    }

    /// <summary>Bytes that are not all alike, so a misplaced or repeated chunk would show.</summary>
    internal static byte[] Export(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }
}
