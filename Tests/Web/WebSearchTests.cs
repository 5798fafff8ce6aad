using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Domain.Jobs;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// Search as a tenant sees it: tenant-a on PostgreSQL full-text search (no Elasticsearch), tenant-b on its
/// Elasticsearch (a stand-in that checks what the official client sends).
/// </summary>
public sealed class WebSearchTests(TwoTenantWebs webs, TestServers servers) : IClassFixture<TwoTenantWebs>
{
    private WebTenant A => webs.WebA;

    private WebTenant B => webs.WebB;

    [Fact]
    public async Task Without_elasticsearch_expire_card_finds_the_expired_credit_cards_case_and_not_an_unrelated_one()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        var wanted = await admin.CreateCaseAsync(project, "Checkout rejects expired credit cards");
        var unrelated = await admin.CreateCaseAsync(project, "Password reset sends an email");

        var body = await admin.GetFromJsonAsync<JsonElement>(new Uri("/api/search?q=expire%20card", UriKind.Relative));

        Assert.Equal("postgresql", body.GetProperty("source").GetString());
        var ids = body.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetInt64()).ToList();
        Assert.Contains(wanted, ids);
        Assert.DoesNotContain(unrelated, ids);
        var hit = body.GetProperty("hits").EnumerateArray().First(h => h.GetProperty("id").GetInt64() == wanted);
        Assert.Equal("Checkout rejects <mark>expired</mark> credit <mark>cards</mark>", hit.GetProperty("titleHtml").GetString());
        Assert.Equal($"/cases/{wanted}", hit.GetProperty("link").GetString());
    }

    [Fact]
    public async Task The_search_page_names_its_engine_and_highlights_the_matches()
    {
        using var admin = await A.AdminAsync();
        var project = await admin.CreateProjectAsync();
        await admin.CreateCaseAsync(project, "Refunds reach the <bank> account");

        var html = await admin.GetStringAsync(new Uri("/search?q=refund", UriKind.Relative));

        Assert.Contains("Served by PostgreSQL full-text search, always current", html, StringComparison.Ordinal);
        Assert.Contains("<mark>Refunds</mark> reach the &lt;bank&gt; account", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("the")]
    [InlineData("\"unbalanced (quote | & ! :*")]
    [InlineData("%00%01%02")]
    [InlineData("%EE%80%80%ED%A0%80")]
    public async Task A_query_postgresql_cannot_fully_parse_is_answered_never_with_a_500(string rawQuery)
    {
        using var admin = await A.AdminAsync();

        using var api = await admin.GetAsync(new Uri($"/api/search?q={rawQuery}", UriKind.Relative));
        using var page = await admin.GetAsync(new Uri($"/search?q={rawQuery}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task Reindex_without_elasticsearch_says_none_is_needed_and_queues_no_job()
    {
        using var admin = await A.AdminAsync();
        var before = (await webs.JobsAsync(TwoTenantWebs.A, QueueNames.ElasticsearchReindex)).Count;

        using var response = await admin.PostAsJsonAsync(new Uri("/api/admin/reindex", UriKind.Relative), new { scope = "All" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("postgresql", body.GetProperty("engine").GetString());
        Assert.False(body.GetProperty("queued").GetBoolean());
        Assert.Contains("nothing to reindex", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, (await webs.JobsAsync(TwoTenantWebs.A, QueueNames.ElasticsearchReindex)).Count);
        var page = await admin.GetStringAsync(new Uri("/admin/reindex", UriKind.Relative));
        Assert.Contains("nothing to reindex, and no job was queued", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Start reindex", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_elasticsearch_search_asks_the_index_through_the_official_client_and_shows_its_highlights()
    {
        using var admin = await B.AdminAsync();
        webs.Elasticsearch.AddLegacyIndex($"{TwoTenantWebs.TenantBIndex}-cases",
            ("41", new JsonObject { ["id"] = 41, ["projectId"] = 1, ["title"] = "Checkout rejects expired credit cards", ["description"] = "The <form> says why" }),
            ("42", new JsonObject { ["id"] = 42, ["projectId"] = 1, ["title"] = "Password reset sends an email" }));
        var requestsBefore = webs.Elasticsearch.SearchRequests.Count;

        var body = await admin.GetFromJsonAsync<JsonElement>(new Uri("/api/search?q=expired&page=1&pageSize=5", UriKind.Relative));
        var html = await admin.GetStringAsync(new Uri("/search?q=expired", UriKind.Relative));

        Assert.Equal("elasticsearch", body.GetProperty("source").GetString());
        Assert.Equal(1, body.GetProperty("total").GetInt64());
        var hit = Assert.Single(body.GetProperty("hits").EnumerateArray());
        Assert.Equal(41, hit.GetProperty("id").GetInt64());
        Assert.Equal("cases", hit.GetProperty("type").GetString());
        Assert.Equal("Checkout rejects <mark>expired</mark> credit cards", hit.GetProperty("titleHtml").GetString());
        Assert.Contains("Served by Elasticsearch, as of its last reindex", html, StringComparison.Ordinal);
        Assert.Empty(webs.Elasticsearch.Violations);
        var request = webs.Elasticsearch.SearchRequests[requestsBefore];
        Assert.Equal(0, request["from"]!.GetValue<int>());
        Assert.Equal(5, request["size"]!.GetValue<int>());
        Assert.Equal("expired", request["query"]!["multi_match"]!["query"]!.GetValue<string>());
        Assert.Equal(["title", "name", "key", "description"], ElasticsearchApiServer.HighlightFields(request["highlight"]!.AsObject()));
        Assert.Equal("\uE000", request["highlight"]!["pre_tags"]![0]!.GetValue<string>());
        var search = webs.Elasticsearch.Requests.Last(r => r.Path.EndsWith("/_search", StringComparison.Ordinal));
        Assert.Equal($"{TwoTenantWebs.TenantBIndex}-cases,{TwoTenantWebs.TenantBIndex}-runs,{TwoTenantWebs.TenantBIndex}-issues/_search", search.Path);
        Assert.Contains("ignore_unavailable=true", search.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_elasticsearch_down_search_answers_from_postgresql_and_says_so()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var database = await (await servers.PostgresAsync()).CreateDatabaseAsync("web-c");
        var c = new WebTenant(global::Tenancy.TenantId.Parse("tenant-c"), "admin@tenant-c.test", "signing-key-of-tenant-c", database);
        await using (c.Host = ServiceHost.Start("Web", c.Environment(webs.Valkey.ConnectionString,
            ("TENANT_TENANT_C_ELASTICSEARCH_NODE", $"http://127.0.0.1:{port}"),
            ("TENANT_TENANT_C_ELASTICSEARCH_INDEX", "tenant-c"))))
        {
            await c.Host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(90));
            using var admin = await c.AdminAsync();
            var project = await admin.CreateProjectAsync();
            await admin.CreateCaseAsync(project, "Checkout rejects expired credit cards");

            var body = await admin.GetFromJsonAsync<JsonElement>(new Uri("/api/search?q=expire%20card", UriKind.Relative));

            Assert.Equal("postgresql", body.GetProperty("source").GetString());
            Assert.Equal(1, body.GetProperty("total").GetInt64());
            Assert.StartsWith("Elasticsearch did not answer", body.GetProperty("notice").GetString(), StringComparison.Ordinal);
        }
    }
}
