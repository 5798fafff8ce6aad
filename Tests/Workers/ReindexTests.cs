using System.Text.Json;
using Domain.Jobs;
using Domain.Model;
using Queue;
using Tests.Infrastructure;

namespace Tests.Workers;

public sealed class ReindexTests(TestServers servers)
{
    private const string Prefix = "acme";

    [Fact]
    public async Task A_full_reindex_bulk_loads_new_indices_in_batches_then_points_the_aliases_at_them()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        await SeedAsync(workers, casesPerProject: 3);

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.All, BatchSize: 2));

        AssertCompleted(job);
        Assert.Empty(es.Violations);
        foreach (var entity in SearchEntityTypes.All)
        {
            var index = Assert.Single(es.AliasTargets($"{Prefix}-{entity}"));
            Assert.Matches($"^{Prefix}-[0-9]{{8}}t[0-9]{{9}}-{entity}$", index);
            // Loaded into the new concrete index, never through the alias, before the alias moved to it.
            var events = es.Events;
            var aliasAt = events.FindIndex(e => e.StartsWith("aliases", StringComparison.Ordinal) && e.Contains($"add {index} -> {Prefix}-{entity}", StringComparison.Ordinal));
            Assert.True(events.IndexOf($"create {index}") < events.FindIndex(e => e.StartsWith($"bulk {index}", StringComparison.Ordinal)));
            Assert.True(events.LastIndexOf($"refresh {index}") < aliasAt);
            Assert.True(events.FindLastIndex(e => e.StartsWith($"bulk {index}", StringComparison.Ordinal)) < aliasAt);
        }
        var caseBulks = es.Bulks.Where(b => b.Index.EndsWith("-cases", StringComparison.Ordinal)).Select(b => b.Count).ToList();
        Assert.Equal([2, 2, 2], caseBulks);
        var cases = es.Search($"{Prefix}-cases");
        Assert.Equal(6, cases.Count);
        Assert.All(cases, c => Assert.EndsWith("-cases", c.Index, StringComparison.Ordinal));
        Assert.Contains(cases, c => c.Source["title"]!.GetValue<string>() == "Login works 0" && c.Source["projectId"] is not null);
        Assert.Equal(2, es.Search($"{Prefix}-runs").Count);
        Assert.Equal("PROJ-1", Assert.Single(es.Search($"{Prefix}-issues")).Source["key"]!.GetValue<string>());
        using var progress = JsonDocument.Parse(job.Progress!);
        Assert.Equal("issues", progress.RootElement.GetProperty("entity").GetString());
        Assert.Equal(1, progress.RootElement.GetProperty("indexed").GetInt64());
        Assert.Equal(1, progress.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(100, progress.RootElement.GetProperty("percent").GetInt32());
        // The official 9.x client's wire format: the compatibility media type on its JSON APIs, NDJSON for _bulk.
        Assert.All(es.Requests, r => Assert.StartsWith("elasticsearch-net/9.", r.UserAgent, StringComparison.Ordinal));
        Assert.All(es.Requests.Where(r => r.Path != "_bulk"), r => Assert.Equal("application/vnd.elasticsearch+json;compatible-with=9", r.Accept));
        Assert.All(es.Requests.Where(r => r.Method == "PUT"), r => Assert.Equal("application/vnd.elasticsearch+json;compatible-with=9", r.ContentType));
        Assert.All(es.Requests.Where(r => r.Path == "_bulk"), r => Assert.Equal("application/x-ndjson", r.ContentType));
    }

    [Fact]
    public async Task Reindexing_again_swaps_the_alias_in_one_request_and_then_deletes_the_old_index()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        await SeedAsync(workers, casesPerProject: 2);
        await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Cases));
        var old = Assert.Single(es.AliasTargets($"{Prefix}-cases"));
        await Task.Delay(5); // a new millisecond, so a new index name

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Cases));

        AssertCompleted(job);
        Assert.Empty(es.Violations);
        var current = Assert.Single(es.AliasTargets($"{Prefix}-cases"));
        Assert.NotEqual(old, current);
        var swap = es.AliasRequests[^1]["actions"]!.AsArray()
            .Select(a => a!.AsObject().First())
            .Select(a => (a.Key, a.Value!["index"]!.GetValue<string>(), a.Value["alias"]!.GetValue<string>()))
            .ToList();
        Assert.Equal([("remove", old, $"{Prefix}-cases"), ("add", current, $"{Prefix}-cases")], swap);
        Assert.False(es.Indices.ContainsKey(old));
        Assert.True(es.Events.FindLastIndex(e => e.StartsWith("aliases", StringComparison.Ordinal)) < es.Events.IndexOf($"delete {old}"));
        Assert.Equal(4, es.Search($"{Prefix}-cases").Count);
        // An entity-type reindex leaves the other entities alone.
        Assert.DoesNotContain(es.Events, e => e.Contains("-runs", StringComparison.Ordinal) || e.Contains("-issues", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_concrete_index_named_like_the_alias_is_replaced_in_the_same_atomic_step()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        await SeedAsync(workers, casesPerProject: 1);
        es.AddLegacyIndex($"{Prefix}-runs", ("999", new() { ["name"] = "stale" }));

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Runs));

        AssertCompleted(job);
        Assert.Empty(es.Violations);
        var actions = es.AliasRequests[^1]["actions"]!.AsArray().Select(a => a!.AsObject().First().Key).ToList();
        Assert.Equal(["remove_index", "add"], actions);
        var runs = es.Search($"{Prefix}-runs");
        Assert.Equal(2, runs.Count);
        Assert.DoesNotContain(runs, r => r.Id == "999");
    }

    [Fact]
    public async Task A_project_reindex_upserts_that_projects_documents_through_the_alias_and_deletes_those_of_deleted_rows()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        var (first, second) = await SeedAsync(workers, casesPerProject: 3);
        await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.All));
        var indices = SearchEntityTypes.All.Select(e => Assert.Single(es.AliasTargets($"{Prefix}-{e}"))).ToList();
        long deleted;
        await using (var db = workers.Context())
        {
            var cases = db.TestCases.Where(c => c.ProjectId == first).OrderBy(c => c.Id).ToList();
            cases[0].Title = "Renamed case";
            deleted = cases[1].Id;
            db.TestCases.Remove(cases[1]);
            await db.SaveChangesAsync();
        }
        var bulksBefore = es.Bulks.Count;

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.Project, ProjectId: first, BatchSize: 1));

        AssertCompleted(job);
        Assert.Empty(es.Violations);
        var bulks = es.Bulks.Skip(bulksBefore).ToList();
        Assert.Equal([($"{Prefix}-cases", 1), ($"{Prefix}-cases", 1), ($"{Prefix}-runs", 1), ($"{Prefix}-issues", 1)], bulks);
        Assert.Equal(indices, SearchEntityTypes.All.Select(e => Assert.Single(es.AliasTargets($"{Prefix}-{e}"))).ToList());
        var searchable = es.Search($"{Prefix}-cases");
        Assert.Equal(5, searchable.Count);
        Assert.DoesNotContain(searchable, c => c.Id == deleted.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(searchable, c => c.Source["title"]!.GetValue<string>() == "Renamed case");
        // The other project's documents are untouched.
        Assert.Equal(3, searchable.Count(c => c.Source["projectId"]!.GetValue<long>() == second));
        Assert.Contains($"delete_by_query {Prefix}-cases 1", es.Events);
        var deletion = Assert.Single(es.Requests, r => r.Path == $"{Prefix}-cases/_delete_by_query");
        Assert.Contains("refresh=true", deletion.Query, StringComparison.Ordinal);
        Assert.Contains("conflicts=proceed", deletion.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_project_reindex_into_an_index_built_before_indexRun_maps_it_first_and_keeps_the_projects_documents()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        var (first, _) = await SeedAsync(workers, casesPerProject: 2);
        await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Cases));
        // As the hand-written client's indices were: no indexRun in the mappings, so a term query on it finds nothing.
        foreach (var index in es.Indices.Values)
        {
            index.Mappings["properties"]!.AsObject().Remove("indexRun");
        }

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.Project, ProjectId: first));

        AssertCompleted(job);
        Assert.Empty(es.Violations);
        Assert.Contains($"mapping {Prefix}-cases indexRun", es.Events);
        Assert.Equal(4, es.Search($"{Prefix}-cases").Count);
    }

    [Fact]
    public async Task A_tenant_without_elasticsearch_completes_its_reindex_at_once_saying_postgresql_needs_none()
    {
        await using var workers = await WorkerHarness.StartAsync(servers, search: null);

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.All));

        AssertCompleted(job);
        using var progress = JsonDocument.Parse(job.Progress!);
        Assert.Equal("postgresql", progress.RootElement.GetProperty("engine").GetString());
        Assert.Contains("nothing to reindex", progress.RootElement.GetProperty("note").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejected_document_fails_the_job_permanently_with_the_first_rejected_items_reason_and_leaves_the_alias()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        await SeedAsync(workers, casesPerProject: 2);
        await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Cases));
        var before = Assert.Single(es.AliasTargets($"{Prefix}-cases"));
        var rejected = es.Search($"{Prefix}-cases").Where(c => c.Source["title"]!.GetValue<string>() is "Login works 1" or "Login works 2").Select(c => c.Id).Order(StringComparer.Ordinal).ToList();
        es.RejectDocument = doc => doc["title"]?.GetValue<string>() is "Login works 1" or "Login works 2";

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Cases, BatchSize: 3));

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(1, job.Attempts);
        Assert.Contains("rejected 2 of 3 documents", job.Error, StringComparison.Ordinal);
        Assert.Contains($"the first, document {rejected[0]}: 400 mapper_parsing_exception: failed to parse field [title] of document [{rejected[0]}]", job.Error, StringComparison.Ordinal);
        Assert.Equal([before], es.AliasTargets($"{Prefix}-cases"));
        Assert.Equal([before], es.Indices.Keys.Where(k => k.EndsWith("-cases", StringComparison.Ordinal)).ToList());
        Assert.Equal(4, es.Search($"{Prefix}-cases").Count);
    }

    [Fact]
    public async Task Items_refused_with_429_are_sent_again_alone_and_the_job_completes()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        await using var workers = await WorkerHarness.StartAsync(servers, (es.Url, Prefix));
        await SeedAsync(workers, casesPerProject: 2);
        es.PushBackOnce = doc => doc["title"]?.GetValue<string>() == "Login works 2";

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Cases, BatchSize: 4));

        AssertCompleted(job);
        Assert.Empty(es.Violations);
        Assert.Equal([4, 1], es.Bulks.Select(b => b.Count).ToList());
        Assert.Equal(4, es.Search($"{Prefix}-cases").Count);
    }

    [Fact]
    public async Task Credentials_in_the_node_url_are_sent_as_basic_auth_and_never_in_the_url()
    {
        await using var es = await ElasticsearchApiServer.StartAsync();
        var node = new UriBuilder(es.Url) { UserName = "indexer", Password = "s3cret-pass" }.Uri;
        await using var workers = await WorkerHarness.StartAsync(servers, (node, Prefix));
        await SeedAsync(workers, casesPerProject: 1);

        var job = await workers.RunAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.EntityType, SearchEntityTypes.Runs));

        AssertCompleted(job);
        var expected = "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("indexer:s3cret-pass"));
        Assert.NotEmpty(es.Requests);
        Assert.All(es.Requests, r => Assert.Equal(expected, r.Authorization));
        Assert.All(es.Requests, r => Assert.DoesNotContain("indexer", r.Path + r.Query, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_node_that_does_not_answer_delays_the_job_without_using_an_attempt()
    {
        // A port nothing listens on: the connection is refused, as for a node that is down.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var workers = await WorkerHarness.StartAsync(servers, (new Uri($"http://127.0.0.1:{port}"), Prefix));

        var job = await workers.RunUntilAsync(Jobs.Reindex, new ReindexPayload(ReindexScope.All), JobState.Delayed, JobState.Completed, JobState.Failed);

        Assert.Equal(JobState.Delayed, job.State);
        Assert.Contains($"Elasticsearch at http://127.0.0.1:{port} did not answer", job.Error ?? job.Progress ?? "", StringComparison.Ordinal);
    }

    private static void AssertCompleted(JobDetails job) =>
        Assert.True(job.State == JobState.Completed, $"The job is {job.State}: {job.Error}");

    /// <summary>Two projects with the given number of cases each, one run each, and one tracked issue in the first.</summary>
    private static async Task<(long First, long Second)> SeedAsync(WorkerHarness workers, int casesPerProject)
    {
        await using var db = workers.Context();
        var now = DateTimeOffset.UtcNow;
        var projects = new[] { new Project { Name = "Web", CreatedAt = now }, new Project { Name = "Mobile", CreatedAt = now } };
        var n = 0;
        foreach (var project in projects)
        {
            for (var i = 0; i < casesPerProject; i++)
            {
                project.Cases.Add(new TestCase { Title = $"Login works {n++}", Description = "Given a user", CreatedAt = now });
            }
            project.Runs.Add(new TestRun { Name = $"Nightly {project.Name}", CreatedAt = now });
        }
        db.Projects.AddRange(projects);
        await db.SaveChangesAsync();
        var integration = new TrackerIntegration { ProjectId = projects[0].Id, BaseUrl = "https://jira.example", ProjectKey = "PROJ", CreatedAt = now };
        db.TrackerIntegrations.Add(integration);
        await db.SaveChangesAsync();
        db.ExternalIssues.Add(new ExternalIssue { IntegrationId = integration.Id, Key = "PROJ-1", Title = "Login broken", Status = "Open" });
        await db.SaveChangesAsync();
        return (projects[0].Id, projects[1].Id);
    }
}
