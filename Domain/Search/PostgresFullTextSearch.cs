using Domain.Jobs;
using Npgsql;

namespace Domain.Search;

/// <summary>
/// Search over the tenant database's own <c>search_vector</c> columns (migration <c>SearchVectors</c>): the query goes
/// through <c>websearch_to_tsquery</c> with the database's text search configuration (<c>search_language()</c>, the
/// tenant's <c>searchLanguage</c>), so words are stemmed as the vectors were ("expire card" matches "expired credit
/// cards"), quotes make phrases, <c>-word</c> excludes and <c>or</c> alternates. Hits of cases, runs and issues are
/// ranked together by <c>ts_rank</c> (title matches weigh most), paged, and highlighted by <c>ts_headline</c> for
/// the page's rows only. <c>websearch_to_tsquery</c> never raises a syntax error: whatever it cannot use it drops, so
/// any input gets results for the words it has. Thread-safe; holds no state.
/// </summary>
public static class PostgresFullTextSearch
{
    // One statement: the ranked matches of all three tables, the page of them, then titles, details and headlines
    // joined for that page only (ts_headline re-parses the text, so it must not run for every match).
    private const string PageSql = $$"""
        WITH q AS MATERIALIZED (
            SELECT search_language() AS language, websearch_to_tsquery(search_language(), @query) AS query
        ),
        matches AS (
            SELECT '{{SearchEntityTypes.Cases}}' AS type, c.id, ts_rank(c.search_vector, q.query) AS rank
            FROM test_cases c, q WHERE c.search_vector @@ q.query
            UNION ALL
            SELECT '{{SearchEntityTypes.Runs}}', r.id, ts_rank(r.search_vector, q.query)
            FROM test_runs r, q WHERE r.search_vector @@ q.query
            UNION ALL
            SELECT '{{SearchEntityTypes.Issues}}', i.id, ts_rank(i.search_vector, q.query)
            FROM external_issues i, q WHERE i.search_vector @@ q.query
        ),
        page AS (
            SELECT type, id, rank, count(*) OVER () AS total
            FROM matches ORDER BY rank DESC, type, id LIMIT @limit OFFSET @offset
        )
        SELECT p.type, p.id, p.rank, p.total,
               coalesce(c.title, r.name, i.key || coalesce(': ' || i.title, '')) AS title,
               coalesce(cp.name, rp.name, i.status) AS detail,
               i.url,
               ts_headline(q.language, coalesce(c.title, r.name, i.key || coalesce(': ' || i.title, '')), q.query, @whole) AS title_marked,
               CASE WHEN c.description IS NOT NULL THEN ts_headline(q.language, c.description, q.query, @fragments) END AS snippet_marked
        FROM page p CROSS JOIN q
        LEFT JOIN test_cases c ON p.type = '{{SearchEntityTypes.Cases}}' AND c.id = p.id
        LEFT JOIN projects cp ON cp.id = c.project_id
        LEFT JOIN test_runs r ON p.type = '{{SearchEntityTypes.Runs}}' AND r.id = p.id
        LEFT JOIN projects rp ON rp.id = r.project_id
        LEFT JOIN external_issues i ON p.type = '{{SearchEntityTypes.Issues}}' AND i.id = p.id
        ORDER BY p.rank DESC, p.type, p.id
        """;

    // Asked only when a page comes back empty: was there nothing to search for, and how many matches are there?
    private const string EmptyPageSql = """
        WITH q AS MATERIALIZED (SELECT websearch_to_tsquery(search_language(), @query) AS query)
        SELECT numnode(q.query),
               (SELECT count(*) FROM test_cases c WHERE c.search_vector @@ q.query)
             + (SELECT count(*) FROM test_runs r WHERE r.search_vector @@ q.query)
             + (SELECT count(*) FROM external_issues i WHERE i.search_vector @@ q.query)
        FROM q
        """;

    private static readonly string WholeOptions = $"StartSel={Highlighting.Start}, StopSel={Highlighting.Stop}, HighlightAll=true";
    private static readonly string FragmentOptions =
        $"StartSel={Highlighting.Start}, StopSel={Highlighting.Stop}, MaxFragments=2, MaxWords=20, MinWords=6, FragmentDelimiter=\" … \"";

    /// <summary>The notice of a query that has no word left to search for.</summary>
    public const string NothingToSearchNotice = "The query has no searchable words (only stop words or punctuation).";

    /// <summary>
    /// One page of the hits for <paramref name="query"/> in the database of <paramref name="dataSource"/>; the query is
    /// cleaned by <see cref="SearchLimits.Clean"/> and the paging clamped by <see cref="SearchLimits.Clamp"/>.
    /// </summary>
    public static async Task<SearchResults> SearchAsync(NpgsqlDataSource dataSource, string? query, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await SearchAsync(connection, query, page, pageSize, cancellationToken);
    }

    /// <summary>The same over an open <paramref name="connection"/> to the tenant database (the web app's DbContext's, say).</summary>
    public static async Task<SearchResults> SearchAsync(NpgsqlConnection connection, string? query, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var q = SearchLimits.Clean(query);
        var (pageNumber, size) = SearchLimits.Clamp(page, pageSize);
        if (q.Length == 0)
        {
            return SearchResults.Empty(SearchEngines.PostgreSql, size);
        }
        var hits = new List<SearchHit>(size);
        long total = 0;
        await using (var command = new NpgsqlCommand(PageSql, connection))
        {
            command.Parameters.AddWithValue("query", q);
            command.Parameters.AddWithValue("limit", size);
            command.Parameters.AddWithValue("offset", (pageNumber - 1) * size);
            command.Parameters.AddWithValue("whole", WholeOptions);
            command.Parameters.AddWithValue("fragments", FragmentOptions);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var type = reader.GetString(0);
                var id = reader.GetInt64(1);
                total = reader.GetInt64(3);
                var url = reader.IsDBNull(6) ? null : reader.GetString(6);
                hits.Add(new SearchHit(
                    type, id, reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), SearchLinks.For(type, id, url),
                    Highlighting.ToHtml(reader.GetString(7)),
                    reader.IsDBNull(8) ? null : SnippetOrNull(reader.GetString(8)),
                    reader.GetFloat(2)));
            }
        }
        if (hits.Count > 0)
        {
            return new SearchResults(hits, total, pageNumber, size, SearchEngines.PostgreSql);
        }
        await using (var command = new NpgsqlCommand(EmptyPageSql, connection))
        {
            command.Parameters.AddWithValue("query", q);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var nodes = reader.GetInt32(0);
            total = reader.GetInt64(1);
            return new SearchResults([], total, pageNumber, size, SearchEngines.PostgreSql, nodes == 0 ? NothingToSearchNotice : null);
        }
    }

    // A description without a match comes back as its first words, unmarked: that is context, not a highlight.
    private static string? SnippetOrNull(string marked) => marked.Contains(Highlighting.Start, StringComparison.Ordinal) ? Highlighting.ToHtml(marked) : null;
}

/// <summary>Where a hit of each entity type lives.</summary>
public static class SearchLinks
{
    public static string For(string type, long id, string? issueUrl) => type switch
    {
        SearchEntityTypes.Cases => $"/cases/{id}",
        SearchEntityTypes.Runs => $"/runs/{id}",
        _ => issueUrl ?? "",
    };
}
