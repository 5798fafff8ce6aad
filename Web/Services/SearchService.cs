using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Domain.Infrastructure;
using Domain.Jobs;
using Microsoft.EntityFrameworkCore;
using Tenancy;

namespace Web.Services;

/// <summary>One search hit.</summary>
public sealed record SearchHit(string Type, long Id, string Title, string? Detail, string Link);

/// <summary>
/// Searches the tenant's Elasticsearch indices (<c>&lt;elasticsearchIndex&gt;-cases|runs|issues</c>, kept by the
/// reindex worker) when the tenant has a node configured; otherwise, and when the node cannot be reached, it
/// falls back to a case-insensitive match in the tenant database so search still works without Elasticsearch.
/// </summary>
internal sealed partial class SearchService(TenantDbContext db, ITenantSettingsStore tenants, ICurrentTenant currentTenant, IHttpClientFactory http, ILogger<SearchService> logger)
{
    public const string HttpClientName = "elasticsearch";
    private const int MaxHits = 50;

    public async Task<(IReadOnlyList<SearchHit> Hits, string Source)> SearchAsync(string query, CancellationToken cancellationToken)
    {
        var q = query.Trim();
        if (q.Length == 0)
        {
            return ([], "none");
        }
        var settings = tenants.Find(currentTenant.Id);
        if (settings is { ElasticsearchNode: { } node, ElasticsearchIndex: { } index })
        {
            try
            {
                return (await SearchElasticsearchAsync(node, index, q, cancellationToken), "elasticsearch");
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException)
            {
                Log.ElasticsearchUnavailable(logger, e);
            }
        }
        return (await SearchDatabaseAsync(q, cancellationToken), "database");
    }

    private async Task<IReadOnlyList<SearchHit>> SearchElasticsearchAsync(string node, string index, string q, CancellationToken cancellationToken)
    {
        var indices = string.Join(',', SearchEntityTypes.All.Select(type => $"{index}-{type}"));
        var request = new
        {
            size = MaxHits,
            query = new { multi_match = new { query = q, fields = new[] { "title^3", "name^3", "key^4", "description", "status" } } },
        };
        using var client = http.CreateClient(HttpClientName);
        using var response = await client.PostAsJsonAsync(new Uri(new Uri(node.TrimEnd('/') + "/"), $"{indices}/_search?ignore_unavailable=true"), request, cancellationToken);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<SearchResponse>(cancellationToken) ?? new SearchResponse();
        return body.Hits.Hits.Select(hit =>
        {
            var type = hit.Index[(hit.Index.LastIndexOf('-') + 1)..];
            var id = long.TryParse(hit.Id, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
            var title = hit.Source.TryGetProperty("title", out var t) ? t.GetString() : hit.Source.TryGetProperty("name", out var n) ? n.GetString() : hit.Id;
            return new SearchHit(type, id, title ?? hit.Id, null, LinkFor(type, id));
        }).ToList();
    }

    private async Task<IReadOnlyList<SearchHit>> SearchDatabaseAsync(string q, CancellationToken cancellationToken)
    {
        var pattern = "%" + q.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
        var cases = await db.TestCases.AsNoTracking().Where(c => EF.Functions.ILike(c.Title, pattern))
            .OrderBy(c => c.Id).Take(MaxHits).Select(c => new SearchHit(SearchEntityTypes.Cases, c.Id, c.Title, c.Project!.Name, "/cases/" + c.Id)).ToListAsync(cancellationToken);
        var runs = await db.TestRuns.AsNoTracking().Where(r => EF.Functions.ILike(r.Name, pattern))
            .OrderBy(r => r.Id).Take(MaxHits).Select(r => new SearchHit(SearchEntityTypes.Runs, r.Id, r.Name, r.Project!.Name, "/runs/" + r.Id)).ToListAsync(cancellationToken);
        var issues = await db.ExternalIssues.AsNoTracking().Where(i => EF.Functions.ILike(i.Key, pattern) || (i.Title != null && EF.Functions.ILike(i.Title, pattern)))
            .OrderBy(i => i.Id).Take(MaxHits).Select(i => new SearchHit(SearchEntityTypes.Issues, i.Id, i.Key + (i.Title == null ? "" : ": " + i.Title), i.Status, i.Url ?? "")).ToListAsync(cancellationToken);
        return [.. cases.Concat(runs).Concat(issues).Take(MaxHits)];
    }

    private static string LinkFor(string type, long id) => type switch
    {
        SearchEntityTypes.Cases => $"/cases/{id}",
        SearchEntityTypes.Runs => $"/runs/{id}",
        _ => "",
    };

    private sealed class SearchResponse
    {
        [JsonPropertyName("hits")]
        public HitsEnvelope Hits { get; set; } = new();
    }

    private sealed class HitsEnvelope
    {
        [JsonPropertyName("hits")]
        public List<Hit> Hits { get; set; } = [];
    }

    private sealed class Hit
    {
        [JsonPropertyName("_index")]
        public string Index { get; set; } = "";

        [JsonPropertyName("_id")]
        public string Id { get; set; } = "";

        [JsonPropertyName("_source")]
        public JsonElement Source { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Elasticsearch search failed; falling back to the database")]
        public static partial void ElasticsearchUnavailable(ILogger logger, Exception exception);
    }
}
