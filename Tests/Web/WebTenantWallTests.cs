using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Domain.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Queue;
using Tenancy;
using Tests.Infrastructure;
using Tests.Queue;
using JobNames = Domain.Jobs.JobNames;

namespace Tests.Web;

/// <summary>One tenant's app can neither see nor touch another tenant's jobs, and another tenant's credentials mean nothing to it.</summary>
public sealed class WebTenantWallTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>, IAsyncLifetime
{
    private const string FailingQueue = QueueNames.Emails;
    private QueueHost? _worker;
    private string _failedJob = "";
    private string _delayedJob = "";

    public async ValueTask InitializeAsync()
    {
        // A worker for tenant-a's emails that fails every job, so tenant-a has a failed job to protect.
        _worker = await QueueHost.StartAsync(webs.Valkey, webs.TenantSettings, server => server
            .AddQueue(FailingQueue, 1)
            .AddHandler(JobNames.SendEmail, (_, _, _) => throw new PermanentJobFailureException("The mailbox does not exist.")));
        var client = webs.QueueServices.GetRequiredService<IJobQueueClient>();
        using (TenantScope.Begin(TwoTenantWebs.A))
        {
            _failedJob = (await client.EnqueueAsync(FailingQueue, JobNames.SendEmail, new SendEmailPayload("nobody@tenant-a.test", "Hello", "Body"))).Id;
            _delayedJob = (await client.EnqueueAsync(FailingQueue, JobNames.SendEmail, new SendEmailPayload("later@tenant-a.test", "Later", "Body"), new EnqueueOptions { Delay = TimeSpan.FromHours(1) })).Id;
        }
        await Wait.UntilAsync(async () => await StateOfAsync(_failedJob) == JobState.Failed, "tenant-a's email job has failed");
    }

    public async ValueTask DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }
    }

    [Fact]
    public async Task Another_tenants_admin_does_not_see_the_tenants_jobs_in_counts_or_lists()
    {
        using var adminB = await webs.WebB.AdminAsync();

        var overview = await adminB.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/queues", UriKind.Relative));
        var failed = await adminB.GetFromJsonAsync<JsonElement>(new Uri($"/api/admin/queues/{FailingQueue}/jobs?state=Failed", UriKind.Relative));
        var delayed = await adminB.GetFromJsonAsync<JsonElement>(new Uri($"/api/admin/queues/{FailingQueue}/jobs?state=Delayed", UriKind.Relative));

        var emails = overview.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == FailingQueue);
        Assert.Equal(0, emails.GetProperty("counts").GetProperty("failed").GetInt64());
        Assert.Equal(0, emails.GetProperty("counts").GetProperty("delayed").GetInt64());
        Assert.Equal(0, failed.GetProperty("items").GetArrayLength());
        Assert.Equal(0, failed.GetProperty("total").GetInt64());
        Assert.Equal(0, delayed.GetProperty("items").GetArrayLength());
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("POST", "/retry")]
    [InlineData("POST", "/promote")]
    [InlineData("DELETE", "")]
    public async Task Another_tenants_admin_gets_404_for_the_tenants_job_id(string method, string action)
    {
        using var adminB = await webs.WebB.AdminAsync();
        var jobId = action == "/promote" ? _delayedJob : _failedJob;
        var stateBefore = await StateOfAsync(jobId);

        using var response = await adminB.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri($"/api/admin/queues/{FailingQueue}/jobs/{jobId}{action}", UriKind.Relative)));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(stateBefore, await StateOfAsync(jobId));
    }

    [Fact]
    public async Task Another_tenants_admin_cleaning_failed_jobs_leaves_the_tenants_failed_job()
    {
        using var adminB = await webs.WebB.AdminAsync();

        using var response = await adminB.PostAsJsonAsync(new Uri($"/api/admin/queues/{FailingQueue}/clean", UriKind.Relative), new { state = "Failed", olderThanSeconds = 0 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("removed").GetInt32());
        Assert.Equal(JobState.Failed, await StateOfAsync(_failedJob));
    }

    [Fact]
    public async Task The_tenants_own_admin_sees_and_retries_its_failed_job()
    {
        using var adminA = await webs.WebA.AdminAsync();

        var job = await adminA.GetFromJsonAsync<JsonElement>(new Uri($"/api/admin/queues/{FailingQueue}/jobs/{_failedJob}", UriKind.Relative));
        using var retry = await adminA.PostAsync(new Uri($"/api/admin/queues/{FailingQueue}/jobs/{_failedJob}/retry", UriKind.Relative), null);

        Assert.Equal("The mailbox does not exist.", job.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
    }

    [Fact]
    public async Task A_session_cookie_of_one_tenant_gets_401_at_another_tenants_app()
    {
        var cookies = new CookieContainer();
        using (var signIn = webs.WebA.Anonymous(cookies))
        {
            using var response = await signIn.PostAsJsonAsync(new Uri("/api/account/signin", UriKind.Relative), new { email = webs.WebA.AdminEmail, password = TwoTenantWebs.AdminPassword });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var session = cookies.GetAllCookies().Single(c => c.Name == webs.WebA.CookieName).Value;

        // Presented both under its own name and renamed to the name tenant-b's app reads.
        foreach (var name in new[] { webs.WebA.CookieName, webs.WebB.CookieName })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(webs.WebB.BaseAddress, "/api/account/me"));
            request.Headers.Add("Cookie", $"{name}={session}");
            using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false });
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_bearer_token_of_one_tenant_gets_401_at_another_tenants_app()
    {
        using var adminA = await webs.WebA.AdminAsync();
        using var created = await adminA.PostAsJsonAsync(new Uri("/api/account/tokens", UriKind.Relative), new { name = "ci" });
        var token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString();
        using var atA = webs.WebA.Anonymous();
        atA.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var atB = webs.WebB.Anonymous();
        atB.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var home = await atA.GetAsync(new Uri("/api/admin/queues", UriKind.Relative));
        using var foreign = await atB.GetAsync(new Uri("/api/admin/queues", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, foreign.StatusCode);
    }

    private async Task<JobState?> StateOfAsync(string jobId)
    {
        var admin = webs.QueueServices.GetRequiredService<IJobQueueAdmin>();
        using (TenantScope.Begin(TwoTenantWebs.A))
        {
            return (await admin.GetJobAsync(FailingQueue, jobId))?.State;
        }
    }
}
