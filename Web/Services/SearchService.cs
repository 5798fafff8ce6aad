using Domain.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Domain.Jobs;
using Domain.Search;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Search;
using Elastic.Clients.Elasticsearch.QueryDsl;
using Npgsql;
using Tenancy;

namespace Web.Services;

/// <summary>
/// The tenant's search. PostgreSQL full-text search in the tenant database serves every tenant without
/// <c>elasticsearchNode</c> (<see cref="PostgresFullTextSearch"/>); a tenant with one searches its Elasticsearch
/// indices (<c>&lt;elasticsearchIndex&gt;-cases|runs|issues</c>, kept by the reindex worker) through the official
/// client, and falls back to PostgreSQL full-text search, saying so, when the node does not answer.
/// </summary>
internal sealed partial class SearchService(
    TenantDbContext db, ITenantSettingsStore tenants, ICurrentTenant currentTenant, ElasticsearchConnections connections, ILogger<SearchService> logger)
{
    /// <summary>The notice of an answer PostgreSQL gave because Elasticsearch did not.</summary>
    public const string FallbackNotice = "Elasticsearch did not answer; these results come from PostgreSQL full-text search, which may differ from the index.";

    /// <summary>The engine that serves this tenant: one of <see cref="SearchEngines"/>.</summary>
    public string Engine => Target() is null ? SearchEngines.PostgreSql : SearchEngines.Elasticsearch;

    public async Task<SearchResults> SearchAsync(string? query, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        if (Target() is { } target)
        {
            try
            {
                return await SearchElasticsearchAsync(connections.For(target.Node), target, query, page, pageSize, cancellationToken);
            }
            catch (SearchUnavailableException e)
            {
                Log.ElasticsearchUnavailable(logger, e);
                var results = await SearchPostgresAsync(query, page, pageSize, cancellationToken);
                return results with { Notice = FallbackNotice };
            }
        }
        return await SearchPostgresAsync(query, page, pageSize, cancellationToken);
    }

    /// <summary>Full-text search over the request's own database connection (Aspire's pooled DbContext).</summary>
    private async Task<SearchResults> SearchPostgresAsync(string? query, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await PostgresFullTextSearch.SearchAsync((NpgsqlConnection)db.Database.GetDbConnection(), query, page, pageSize, cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private ElasticsearchTarget? Target()
    {
        var settings = tenants.Find(currentTenant.Id);
        try
        {
            return ElasticsearchTarget.From(settings?.ElasticsearchNode, settings?.ElasticsearchIndex);
        }
        catch (FormatException e)
        {
            Log.ElasticsearchMisconfigured(logger, e.Message);
            return null;
        }
    }

    /// <summary>
    /// One <c>_search</c> over the three aliases: a <c>multi_match</c> with titles, names and keys boosted, total hits
    /// counted, and highlights of titles (whole) and descriptions (fragments) between our sentinels, escaped by
    /// <see cref="Highlighting.ToHtml"/>. The entity type of a hit is the last part of its concrete index name.
    /// </summary>
    private static async Task<SearchResults> SearchElasticsearchAsync(
        ElasticsearchClient client, ElasticsearchTarget target, string? query, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var q = SearchLimits.Clean(query);
        var (pageNumber, size) = SearchLimits.Clamp(page, pageSize);
        if (q.Length == 0)
        {
            return SearchResults.Empty(SearchEngines.Elasticsearch, size);
        }
        var whole = new HighlightField { NumberOfFragments = 0 };
        var request = new SearchRequest<HitSource>(Indices.Parse(string.Join(',', SearchEntityTypes.All.Select(target.Alias)), System.Globalization.CultureInfo.InvariantCulture))
        {
            IgnoreUnavailable = true,
            From = (pageNumber - 1) * size,
            Size = size,
            TrackTotalHits = new TrackHits(true),
            Query = new MultiMatchQuery(q) { Fields = Fields.FromStrings(["title^3", "name^3", "key^4", "description", "status"]) },
            Highlight = new Highlight
            {
                PreTags = [Highlighting.StartTag],
                PostTags = [Highlighting.StopTag],
                Fields = new Dictionary<Field, HighlightField>
                {
                    ["title"] = whole,
                    ["name"] = whole,
                    ["key"] = whole,
                    ["description"] = new HighlightField { FragmentSize = 120, NumberOfFragments = 2 },
                },
            },
        };
        SearchResponse<HitSource> response;
        try
        {
            response = await client.SearchAsync<HitSource>(request, cancellationToken);
        }
        catch (Exception e) when (e is Elastic.Transport.TransportException or HttpRequestException)
        {
            throw new SearchUnavailableException(e.Message, e);
        }
        if (!response.IsValidResponse)
        {
            response.TryGetOriginalException(out var cause);
            throw new SearchUnavailableException(
                $"{response.ApiCallDetails?.HttpStatusCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no answer"} {response.ElasticsearchServerError?.Error?.Reason ?? cause?.Message}", cause);
        }
        var hits = response.HitsMetadata?.Hits ?? [];
        var total = response.HitsMetadata?.Total?.Match(t => t?.Value ?? 0, n => n) ?? hits.Count;
        return new SearchResults([.. hits.Select(ToHit)], total, pageNumber, size, SearchEngines.Elasticsearch);
    }

    private static SearchHit ToHit(Hit<HitSource> hit)
    {
        var index = hit.Index ?? "";
        var type = index[(index.LastIndexOf('-') + 1)..];
        var source = hit.Source ?? new HitSource();
        var id = source.Id ?? (long.TryParse(hit.Id, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : 0);
        var title = type == SearchEntityTypes.Issues
            ? source.Key + (source.Title is null ? "" : ": " + source.Title)
            : source.Title ?? source.Name ?? hit.Id ?? "";
        string? Marked(string field) => hit.Highlight is { } h && h.TryGetValue(field, out var fragments) && fragments.Count > 0 ? string.Join(" … ", fragments) : null;
        var titleMarked = type == SearchEntityTypes.Issues
            ? (Marked("key") ?? source.Key) + (source.Title is null ? "" : ": " + (Marked("title") ?? source.Title))
            : Marked("title") ?? Marked("name") ?? title;
        var snippet = Marked("description");
        return new SearchHit(type, id, title, type == SearchEntityTypes.Issues ? source.Status : null, SearchLinks.For(type, id, source.Url),
            Highlighting.ToHtml(titleMarked), snippet is null ? null : Highlighting.ToHtml(snippet), hit.Score ?? 0);
    }

    /// <summary>The fields of every entity's document that a hit shows.</summary>
    private sealed class HitSource
    {
        [System.Text.Json.Serialization.JsonPropertyName("id")]
        public long? Id { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("title")]
        public string? Title { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("name")]
        public string? Name { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("key")]
        public string? Key { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("status")]
        public string? Status { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("url")]
        public string? Url { get; set; }
    }

    private sealed class SearchUnavailableException(string message, Exception? inner) : Exception(message, inner);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Elasticsearch search failed; answering from PostgreSQL full-text search")]
        public static partial void ElasticsearchUnavailable(ILogger logger, Exception exception);

        [LoggerMessage(2, LogLevel.Warning, "The tenant's Elasticsearch settings are unusable ({Problem}); PostgreSQL full-text search serves it")]
        public static partial void ElasticsearchMisconfigured(ILogger logger, string problem);
    }
}
