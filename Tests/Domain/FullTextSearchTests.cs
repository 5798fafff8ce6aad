using Domain.Infrastructure;
using Domain.Model;
using Domain.Search;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tests.Infrastructure;

namespace Tests.Domain;

/// <summary>PostgreSQL full-text search over the search vectors the database keeps (migration SearchVectors).</summary>
public sealed class FullTextSearchTests(TestServers servers)
{
    [Fact]
    public async Task Stemmed_words_match_and_an_unrelated_case_does_not()
    {
        await using var tenant = await TenantAsync();
        await tenant.CasesAsync("Checkout rejects expired credit cards", "Login works with a valid password", "Card layout renders on mobile");

        var results = await tenant.SearchAsync("expire card");

        var hit = Assert.Single(results.Hits);
        Assert.Equal("Checkout rejects expired credit cards", hit.Title);
        Assert.Equal("cases", hit.Type);
        Assert.Equal($"/cases/{hit.Id}", hit.Link);
        Assert.Equal("Checkout rejects <mark>expired</mark> credit <mark>cards</mark>", hit.TitleHtml);
        Assert.Equal(1, results.Total);
        Assert.Equal(SearchEngines.PostgreSql, results.Engine);
        Assert.Null(results.Notice);
    }

    [Fact]
    public async Task Rows_written_by_plain_sql_are_searchable_and_an_update_replaces_their_words()
    {
        await using var tenant = await TenantAsync();
        var project = await tenant.ProjectAsync();
        await tenant.ExecuteAsync($"INSERT INTO test_cases (project_id, title, created_at) VALUES ({project}, 'Invoices are numbered', now())");
        Assert.Single((await tenant.SearchAsync("invoice")).Hits);

        await tenant.ExecuteAsync("UPDATE test_cases SET title = 'Receipts are numbered'");

        Assert.Empty((await tenant.SearchAsync("invoice")).Hits);
        Assert.Single((await tenant.SearchAsync("receipt")).Hits);
    }

    [Fact]
    public async Task Title_matches_rank_above_description_matches_and_runs_and_issues_are_found_too()
    {
        await using var tenant = await TenantAsync();
        await using (var db = tenant.Context())
        {
            var project = new Project { Name = "Shop", CreatedAt = DateTimeOffset.UtcNow };
            project.Cases.Add(new TestCase { Title = "Basket keeps items", Description = "After a refund the basket is empty", CreatedAt = DateTimeOffset.UtcNow });
            project.Cases.Add(new TestCase { Title = "Refund is booked", CreatedAt = DateTimeOffset.UtcNow });
            project.Runs.Add(new TestRun { Name = "Refunds nightly", CreatedAt = DateTimeOffset.UtcNow });
            db.Projects.Add(project);
            await db.SaveChangesAsync();
            var integration = new TrackerIntegration { ProjectId = project.Id, BaseUrl = "https://jira.example", ProjectKey = "SHOP", CreatedAt = DateTimeOffset.UtcNow };
            db.TrackerIntegrations.Add(integration);
            await db.SaveChangesAsync();
            db.ExternalIssues.Add(new ExternalIssue { IntegrationId = integration.Id, Key = "SHOP-7", Title = "Refund twice", Status = "Open", Url = "https://jira.example/SHOP-7" });
            await db.SaveChangesAsync();
        }

        var results = await tenant.SearchAsync("refund");

        Assert.Equal(4, results.Total);
        Assert.Equal("Basket keeps items", results.Hits[^1].Title);
        Assert.Equal("After a <mark>refund</mark> the basket is empty", results.Hits[^1].SnippetHtml);
        Assert.Contains(results.Hits, h => h is { Type: "runs", Title: "Refunds nightly", Detail: "Shop" });
        Assert.Contains(results.Hits, h => h is { Type: "issues", Title: "SHOP-7: Refund twice", Link: "https://jira.example/SHOP-7", Detail: "Open" });
        Assert.Single((await tenant.SearchAsync("SHOP-7")).Hits);
    }

    [Fact]
    public async Task Results_are_paged_with_the_total_of_all_matches()
    {
        await using var tenant = await TenantAsync();
        await tenant.CasesAsync([.. Enumerable.Range(1, 25).Select(i => $"Export report {i:00}")]);

        var second = await tenant.SearchAsync("export", page: 2, pageSize: 10);
        var third = await tenant.SearchAsync("export", page: 3, pageSize: 10);
        var beyond = await tenant.SearchAsync("export", page: 4, pageSize: 10);

        Assert.Equal((25, 2, 10), (second.Total, second.Page, second.Hits.Count));
        Assert.Equal(5, third.Hits.Count);
        Assert.Empty(beyond.Hits);
        Assert.Equal(25, beyond.Total);
        Assert.Empty(second.Hits.Select(h => h.Id).Intersect(third.Hits.Select(h => h.Id)));
    }

    [Theory]
    [InlineData("the of and")]
    [InlineData("!!! ... ---")]
    [InlineData("   ")]
    public async Task A_query_without_searchable_words_answers_empty_and_says_why(string query)
    {
        await using var tenant = await TenantAsync();
        await tenant.CasesAsync("The cart of the user");

        var results = await tenant.SearchAsync(query);

        Assert.Empty(results.Hits);
        Assert.Equal(0, results.Total);
        if (query.Trim().Length > 0)
        {
            Assert.Equal(PostgresFullTextSearch.NothingToSearchNotice, results.Notice);
        }
    }

    [Theory]
    [InlineData("expired \"cards")]
    [InlineData("expired & | ! :* <-> ( ) \\ ' cards")]
    [InlineData("expired\0cards")]
    [InlineData("-login expired cards")]
    [InlineData("expired cards \uE000\uD800")]
    public async Task A_query_the_parser_cannot_fully_use_gets_results_for_what_it_can_use(string query)
    {
        await using var tenant = await TenantAsync();
        await tenant.CasesAsync("Checkout rejects expired credit cards", "Login expired cards are refused");

        var results = await tenant.SearchAsync(query);

        Assert.Contains(results.Hits, h => h.Title == "Checkout rejects expired credit cards");
        Assert.DoesNotContain("\uE000", results.Hits[0].TitleHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Highlights_are_escaped_html_whatever_the_title_holds()
    {
        await using var tenant = await TenantAsync();
        await tenant.CasesAsync("Cards <b>expire</b> & \"quotes\" 'x'");

        var hit = Assert.Single((await tenant.SearchAsync("expired cards")).Hits);

        Assert.Equal("<mark>Cards</mark> &lt;b&gt;<mark>expire</mark>&lt;/b&gt; &amp; &quot;quotes&quot; &#39;x&#39;", hit.TitleHtml);
    }

    [Fact]
    public async Task Changing_the_search_language_rebuilds_the_vectors_with_its_stemming()
    {
        await using var tenant = await TenantAsync();
        await tenant.CasesAsync("Bezahlung mit abgelaufenen Karten wird abgelehnt");
        Assert.Empty((await tenant.SearchAsync("Karte")).Hits);

        await tenant.MigrateAsync("german");

        Assert.Single((await tenant.SearchAsync("Karte")).Hits);
        Assert.Single((await tenant.SearchAsync("abgelaufene Karte")).Hits);
        // New rows follow the new language too.
        await tenant.CasesAsync("Rechnungen werden gedruckt");
        Assert.Single((await tenant.SearchAsync("Rechnung")).Hits);
        Assert.Equal("german", await tenant.ScalarAsync("SELECT search_language()::text"));
    }

    private async Task<SearchTenant> TenantAsync()
    {
        var database = await (await servers.PostgresAsync()).CreateDatabaseAsync("search");
        var tenant = new SearchTenant(database);
        await tenant.MigrateAsync(null);
        return tenant;
    }

    private sealed class SearchTenant(PostgresTestDatabase database) : IAsyncDisposable
    {
        private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(database.ConnectionString);

        public TenantDbContext Context() => new(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(database.ConnectionString).Options);

        public async Task MigrateAsync(string? language)
        {
            await using var db = Context();
            await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync("tenant-a", language);
        }

        public Task<SearchResults> SearchAsync(string query, int? page = null, int? pageSize = null) =>
            PostgresFullTextSearch.SearchAsync(_dataSource, query, page, pageSize, CancellationToken.None);

        public async Task<long> ProjectAsync()
        {
            await using var db = Context();
            var project = await db.Projects.FirstOrDefaultAsync();
            if (project is null)
            {
                project = new Project { Name = "Web", CreatedAt = DateTimeOffset.UtcNow };
                db.Projects.Add(project);
                await db.SaveChangesAsync();
            }
            return project.Id;
        }

        public async Task CasesAsync(params string[] titles)
        {
            var project = await ProjectAsync();
            await using var db = Context();
            db.TestCases.AddRange(titles.Select(t => new TestCase { ProjectId = project, Title = t, CreatedAt = DateTimeOffset.UtcNow }));
            await db.SaveChangesAsync();
        }

        public async Task ExecuteAsync(string sql)
        {
            await using var command = _dataSource.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        }

        public async Task<string?> ScalarAsync(string sql)
        {
            await using var command = _dataSource.CreateCommand(sql);
            return (string?)await command.ExecuteScalarAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _dataSource.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            await database.DisposeAsync();
        }
    }
}
