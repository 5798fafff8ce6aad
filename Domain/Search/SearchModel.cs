using System.Net;
using System.Text;
using Domain.Jobs;

namespace Domain.Search;

/// <summary>The engines that can serve a tenant's search, as the API and the Search page name them.</summary>
public static class SearchEngines
{
    /// <summary>PostgreSQL full-text search in the tenant database: the default, always current, nothing to reindex.</summary>
    public const string PostgreSql = "postgresql";

    /// <summary>The tenant's own Elasticsearch (<c>elasticsearchNode</c> and <c>elasticsearchIndex</c>), kept by the reindex worker.</summary>
    public const string Elasticsearch = "elasticsearch";

    /// <summary>How the Search page and the reindex page name an engine.</summary>
    public static string DisplayName(string engine) => engine == Elasticsearch ? "Elasticsearch" : "PostgreSQL full-text search";
}

/// <summary>A tenant's Elasticsearch: the node (credentials in its user info) and the prefix of its indices.</summary>
public sealed record ElasticsearchTarget(Uri Node, string IndexPrefix)
{
    /// <summary>The alias searches read and project reindexes write: <c>&lt;elasticsearchIndex&gt;-&lt;entity&gt;</c>.</summary>
    public string Alias(string entity) => $"{IndexPrefix}-{entity}";

    /// <summary>
    /// The tenant's Elasticsearch when its settings name a node (<c>elasticsearchNode</c>), else null: PostgreSQL
    /// full-text search serves it. Throws <see cref="FormatException"/> when the node is set but unusable: not an
    /// http(s) URL, or no <c>elasticsearchIndex</c> beside it.
    /// </summary>
    public static ElasticsearchTarget? From(string? elasticsearchNode, string? elasticsearchIndex)
    {
        if (string.IsNullOrWhiteSpace(elasticsearchNode))
        {
            return null;
        }
        if (!Uri.TryCreate(elasticsearchNode.Trim(), UriKind.Absolute, out var node) || (node.Scheme != Uri.UriSchemeHttp && node.Scheme != Uri.UriSchemeHttps))
        {
            throw new FormatException("elasticsearchNode is not an http(s) URL.");
        }
        if (string.IsNullOrWhiteSpace(elasticsearchIndex))
        {
            throw new FormatException("elasticsearchNode is set without elasticsearchIndex, the prefix of the tenant's indices.");
        }
        return new ElasticsearchTarget(node, elasticsearchIndex.Trim());
    }
}

/// <summary>One search hit.</summary>
/// <param name="Type">The entity type: one of <see cref="SearchEntityTypes.All"/>.</param>
/// <param name="Title">The title as stored (plain text).</param>
/// <param name="Detail">The project of a case or run, the status of an issue.</param>
/// <param name="Link">Where the hit lives: a page of the web app, or the issue in its tracker (empty when unknown).</param>
/// <param name="TitleHtml">The title, HTML-escaped, with the matched words in <c>&lt;mark&gt;</c>.</param>
/// <param name="SnippetHtml">Fragments of the description around the matches, HTML-escaped with <c>&lt;mark&gt;</c>; null when there is none.</param>
/// <param name="Score">The engine's relevance score; comparable only within one answer.</param>
public sealed record SearchHit(string Type, long Id, string Title, string? Detail, string Link, string TitleHtml, string? SnippetHtml, double Score);

/// <summary>One page of search results.</summary>
/// <param name="Engine">Which engine answered: one of <see cref="SearchEngines"/>.</param>
/// <param name="Total">All matches, not only this page's.</param>
/// <param name="Notice">Something the user should know about the answer (a query with no searchable words, an engine that was unavailable).</param>
public sealed record SearchResults(IReadOnlyList<SearchHit> Hits, long Total, int Page, int PageSize, string Engine, string? Notice = null)
{
    public static SearchResults Empty(string engine, int pageSize, string? notice = null) => new([], 0, 1, pageSize, engine, notice);
}

/// <summary>What a search may ask for; the limits keep a query's cost bounded whatever is typed.</summary>
public static class SearchLimits
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 50;
    /// <summary>Hits past this rank are not served (page × page size); refine the query instead.</summary>
    public const int MaxWindow = 1000;
    /// <summary>Characters of a query that are used; the rest is ignored.</summary>
    public const int MaxQueryLength = 256;

    /// <summary>
    /// The query as the engines get it: control characters (NUL above all, which PostgreSQL refuses in text) become
    /// spaces, it is trimmed and cut to <see cref="MaxQueryLength"/>.
    /// </summary>
    public static string Clean(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return string.Empty;
        }
        var builder = new StringBuilder(Math.Min(query.Length, MaxQueryLength));
        for (var i = 0; i < query.Length && builder.Length < MaxQueryLength; i++)
        {
            var c = query[i];
            if (char.IsHighSurrogate(c) && i + 1 < query.Length && char.IsLowSurrogate(query[i + 1]))
            {
                builder.Append(c).Append(query[++i]);
                continue;
            }
            // Lone surrogates cannot be encoded; our highlight sentinels in a query would forge marks in a headline.
            builder.Append(char.IsControl(c) || char.IsSurrogate(c) || c is Highlighting.Start or Highlighting.Stop ? ' ' : c);
        }
        return builder.ToString().Trim();
    }

    /// <summary>Page and page size within the limits: page 1.., size 1..<see cref="MaxPageSize"/>, window ≤ <see cref="MaxWindow"/>.</summary>
    public static (int Page, int PageSize) Clamp(int? page, int? pageSize)
    {
        var size = Math.Clamp(pageSize ?? DefaultPageSize, 1, MaxPageSize);
        var maxPage = Math.Max(1, MaxWindow / size);
        return (Math.Clamp(page ?? 1, 1, maxPage), size);
    }
}

/// <summary>
/// Highlights travel from the engines as plain text with two private-use sentinels around each match; only here do
/// they become HTML, after everything else is escaped, so neither a title nor an engine can inject markup.
/// </summary>
public static class Highlighting
{
    public const char Start = '\uE000';
    public const char Stop = '\uE001';
    public static readonly string StartTag = Start.ToString();
    public static readonly string StopTag = Stop.ToString();

    /// <summary><paramref name="marked"/> HTML-escaped, with each sentinel pair as <c>&lt;mark&gt;…&lt;/mark&gt;</c>.</summary>
    public static string ToHtml(string marked)
    {
        ArgumentNullException.ThrowIfNull(marked);
        var html = WebUtility.HtmlEncode(marked);
        // HtmlEncode leaves the private-use sentinels as they are (they are not special in HTML).
        var open = 0;
        var builder = new StringBuilder(html.Length + 16);
        foreach (var c in html)
        {
            if (c == Start && open == 0)
            {
                builder.Append("<mark>");
                open = 1;
            }
            else if (c == Stop && open == 1)
            {
                builder.Append("</mark>");
                open = 0;
            }
            else if (c is not (Start or Stop))
            {
                builder.Append(c);
            }
        }
        if (open == 1)
        {
            builder.Append("</mark>");
        }
        return builder.ToString();
    }
}
