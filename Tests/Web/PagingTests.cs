using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// No page grows with the data: a run of 5,000 results is read a page at a time, by people and by the API alike, and
/// every list says how many there are in all.
/// </summary>
public sealed partial class PagingTests(BigRunWeb big) : IClassFixture<BigRunWeb>
{
    private WebTenant Web => big.Own.Web;

    [Fact]
    public async Task The_page_of_a_run_with_5000_results_stays_under_1_MB_and_shows_one_page_with_the_total()
    {
        using var admin = await Web.AdminAsync();

        using var response = await admin.GetAsync(new Uri($"/runs/{big.Run}", UriKind.Relative));

        var html = await response.Content.ReadAsStringAsync();
        var bytes = (await response.Content.ReadAsByteArrayAsync()).Length;
        TestContext.Current.SendDiagnosticMessage($"/runs/{big.Run} with {BigRunWeb.Results} results: {bytes:N0} bytes");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(bytes < 1_000_000, $"{bytes:N0} bytes");
        Assert.Contains("1–100 of 5,000 results", html, StringComparison.Ordinal);
        Assert.Contains($"<a href=\"/runs/{big.Run}?p=2\" rel=\"next\">Next →</a>", html, StringComparison.Ordinal);
        Assert.Contains("<strong>5,000</strong> in all", html, StringComparison.Ordinal);
        Assert.Equal(100, ResultRow().Count(Section(html, "id=\"results\"", "</table>")));
        // The form to record results lists the project's 5,000 cases a page at a time too.
        Assert.Contains("1–50 of 5,000 cases", html, StringComparison.Ordinal);
        Assert.Equal(50, Regex.Count(html, "name=\"Record\\[[0-9]+\\]\\.Status\""));
    }

    [Fact]
    public async Task The_last_page_of_the_run_shows_the_last_results_and_a_link_back()
    {
        using var admin = await Web.AdminAsync();

        var html = await admin.GetStringAsync(new Uri($"/runs/{big.Run}?p=50", UriKind.Relative));

        Assert.Contains("4,901–5,000 of 5,000 results", html, StringComparison.Ordinal);
        Assert.Contains($"<a href=\"/runs/{big.Run}?p=49\" rel=\"prev\">← Previous</a>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("rel=\"next\"", Section(html, "id=\"results\"", "<h2>Record results</h2>"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_pages_the_runs_results_with_page_page_size_and_total()
    {
        using var admin = await Web.AdminAsync();

        var first = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/runs/{big.Run}/results", UriKind.Relative));
        var third = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/runs/{big.Run}/results?page=3&pageSize=1000", UriKind.Relative));
        var last = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/runs/{big.Run}/results?page=5&pageSize=1000", UriKind.Relative));
        var beyond = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/runs/{big.Run}/results?page=6&pageSize=1000", UriKind.Relative));
        var run = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/runs/{big.Run}", UriKind.Relative));

        Assert.Equal((50, 1, 50, 5000L), Shape(first));
        Assert.Equal((1000, 3, 1000, 5000L), Shape(third));
        Assert.Equal((1000, 5, 1000, 5000L), Shape(last));
        Assert.Equal((0, 6, 1000, 5000L), Shape(beyond));
        var ids = new[] { first, third, last }.SelectMany(p => p.GetProperty("items").EnumerateArray()).Select(r => r.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(5000, run.GetProperty("totals").GetProperty("results").GetInt64());
        Assert.False(run.TryGetProperty("results", out _), "a run no longer carries all its results");
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=1001", "pageSize")]
    public async Task A_page_outside_the_limits_is_refused_naming_the_parameter(string query, string field)
    {
        using var admin = await Web.AdminAsync();

        using var response = await admin.GetAsync(new Uri($"/api/runs/{big.Run}/results?{query}", UriKind.Relative));

        Assert.Equal([field], await WebApi.ProblemFieldsAsync(response));
    }

    [Theory]
    [InlineData("/api/projects")]
    [InlineData("/api/projects/{project}/cases")]
    [InlineData("/api/projects/{project}/runs")]
    [InlineData("/api/projects/{project}/integrations")]
    [InlineData("/api/runs/{run}/results")]
    [InlineData("/api/imports")]
    [InlineData("/api/notifications")]
    [InlineData("/api/users")]
    [InlineData("/api/account/tokens")]
    [InlineData("/api/admin/queues/forecast-updates/jobs?state=waiting")]
    public async Task Every_list_of_the_api_answers_one_page_with_the_total(string path)
    {
        using var admin = await Web.AdminAsync();
        using (await admin.PostAsJsonAsync(new Uri("/api/account/tokens", UriKind.Relative), new { name = "paging" }))
        {
        }
        var url = path.Replace("{project}", big.Project.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{run}", big.Run.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var body = await admin.GetFromJsonAsync<JsonElement>(new Uri(url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "pageSize=1", UriKind.Relative));

        var (count, page, pageSize, total) = Shape(body);
        Assert.Equal(1, page);
        Assert.Equal(1, pageSize);
        Assert.Equal(total > 0 ? 1 : 0, count);
    }

    private static (int Count, int Page, int PageSize, long Total) Shape(JsonElement page) =>
        (page.GetProperty("items").GetArrayLength(), page.GetProperty("page").GetInt32(), page.GetProperty("pageSize").GetInt32(), page.GetProperty("total").GetInt64());

    private static string Section(string html, string from, string to)
    {
        var start = html.IndexOf(from, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {from}");
        var end = html.IndexOf(to, start, StringComparison.Ordinal);
        return html[start..(end < 0 ? html.Length : end)];
    }

    [GeneratedRegex("<tr><td><a href=\"/cases/[0-9]+\">")]
    private static partial Regex ResultRow();
}

/// <summary>
/// Tenant A's web app with a project of <see cref="Results"/> cases and a run with one result for each, recorded
/// through the API a thousand at a time (the cases are inserted directly: 5,000 API calls would only be slow).
/// </summary>
public sealed class BigRunWeb(TestServers servers) : IAsyncLifetime
{
    public const int Results = 5000;

    private WebOfItsOwn? _own;

    internal WebOfItsOwn Own => _own!;

    public long Project { get; private set; }

    public long Run { get; private set; }

    public async ValueTask InitializeAsync()
    {
        _own = await WebOfItsOwn.StartAsync(servers, "big-run");
        using var admin = await _own.Web.AdminAsync();
        Project = await admin.CreateProjectAsync("Big project");
        await using (var connection = new NpgsqlConnection(_own.Web.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand(
                "INSERT INTO test_cases (project_id, title, created_at) SELECT @p, 'Case number ' || n, now() FROM generate_series(1, @n) AS n", connection);
            insert.Parameters.AddWithValue("p", Project);
            insert.Parameters.AddWithValue("n", Results);
            await insert.ExecuteNonQueryAsync();
        }
        var cases = new List<long>();
        for (var page = 1; cases.Count < Results; page++)
        {
            var body = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/projects/{Project}/cases?page={page}&pageSize=200", UriKind.Relative));
            cases.AddRange(body.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetInt64()));
        }
        Run = await WebApi.IdOfAsync(await admin.PostAsJsonAsync(new Uri($"/api/projects/{Project}/runs", UriKind.Relative), new { name = "Nightly, all cases" }));
        foreach (var chunk in cases.Chunk(1000))
        {
            using var recorded = await admin.PostAsJsonAsync(new Uri($"/api/runs/{Run}/results", UriKind.Relative), new
            {
                results = chunk.Select((c, i) => new { caseId = c, status = i % 10 == 0 ? "Failed" : "Passed", elapsedMs = 1000 + i, comment = $"Comment on case {c}" }),
            });
            Assert.True(recorded.IsSuccessStatusCode, $"{(int)recorded.StatusCode}: {await recorded.Content.ReadAsStringAsync()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_own is not null)
        {
            await _own.DisposeAsync();
        }
    }
}
