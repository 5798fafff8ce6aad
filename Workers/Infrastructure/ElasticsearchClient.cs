using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Queue;
using Tenancy;

namespace Workers.Infrastructure;

/// <summary>One document of a <c>_bulk</c> request: indexed (created or replaced) under <see cref="Id"/>.</summary>
public sealed record BulkDocument(string Id, object Source);

/// <summary>An Elasticsearch request that failed, with the server's status and the start of its answer.</summary>
public sealed class ElasticsearchException : Exception
{
    public ElasticsearchException()
    {
    }

    public ElasticsearchException(string message, bool retryable) : base(message) => Retryable = retryable;

    /// <summary>False when sending the same request again cannot succeed (a document the index rejects).</summary>
    public bool Retryable { get; } = true;

    public ElasticsearchException(string message) : base(message)
    {
    }

    public ElasticsearchException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// The small part of the Elasticsearch REST API the reindex worker needs, over plain HTTP: create and delete an
/// index (<c>PUT</c>/<c>DELETE /{index}</c>), <c>POST /_bulk</c> (NDJSON), <c>POST /{index}/_refresh</c>,
/// <c>GET /_alias/{alias}</c>, <c>HEAD /{index}</c> and <c>POST /_aliases</c>. It speaks the 7.x and 8.x API
/// without mapping types (no <c>_type</c>, no type name in paths). Credentials in the node URL
/// (<c>http://user:pass@host:9200</c>) become basic auth. Not thread-safe beyond what <see cref="HttpClient"/> is.
/// </summary>
public sealed class ElasticsearchClient
{
    public const string HttpClientName = "elasticsearch";
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private static readonly MediaTypeHeaderValue NdJson = new("application/x-ndjson");

    private readonly HttpClient _http;
    private readonly Uri _node;
    private readonly AuthenticationHeaderValue? _auth;

    public ElasticsearchClient(HttpClient http, Uri node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _http = http;
        var builder = new UriBuilder(node) { UserName = "", Password = "" };
        builder.Path = builder.Path.TrimEnd('/') + "/";
        _node = builder.Uri;
        if (!string.IsNullOrEmpty(node.UserInfo))
        {
            _auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(node.UserInfo))));
        }
    }

    /// <summary><c>PUT /{index}</c> with the given settings and mappings.</summary>
    public async Task CreateIndexAsync(string index, JsonObject body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, Escape(index), JsonContent(body), cancellationToken);
        await EnsureSuccessAsync(response, $"create index {index}", cancellationToken);
    }

    /// <summary><c>DELETE /{index}</c>; an index that is already gone is not an error.</summary>
    public async Task DeleteIndexAsync(string index, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, Escape(index), null, cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, $"delete index {index}", cancellationToken);
        }
    }

    /// <summary><c>POST /{index}/_refresh</c>: makes everything indexed so far visible to search.</summary>
    public async Task RefreshAsync(string index, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{Escape(index)}/_refresh", null, cancellationToken);
        await EnsureSuccessAsync(response, $"refresh {index}", cancellationToken);
    }

    /// <summary><c>HEAD /{name}</c>: whether an index or alias of that name exists.</summary>
    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, Escape(name), null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        await EnsureSuccessAsync(response, $"check {name}", cancellationToken);
        return true;
    }

    /// <summary><c>GET /_alias/{alias}</c>: the concrete indices the alias points to (none when it does not exist).</summary>
    public async Task<IReadOnlyList<string>> GetAliasIndicesAsync(string alias, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"_alias/{Escape(alias)}", null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }
        await EnsureSuccessAsync(response, $"read alias {alias}", cancellationToken);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        // { "<index>": { "aliases": { "<alias>": {} } }, ... }
        return [.. json.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// <c>POST /_aliases</c>: applies every action in one atomic cluster-state update, so searches through the
    /// alias see either the old indices or the new one, never neither.
    /// </summary>
    public async Task UpdateAliasesAsync(IEnumerable<JsonObject> actions, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["actions"] = new JsonArray([.. actions]) };
        using var response = await SendAsync(HttpMethod.Post, "_aliases", JsonContent(body), cancellationToken);
        await EnsureSuccessAsync(response, "update aliases", cancellationToken);
    }

    /// <summary>
    /// <c>POST /_bulk</c>: indexes <paramref name="documents"/> into <paramref name="index"/> (an index or an alias
    /// with one write index). A 200 answer can still carry failed items: any failed item fails the call, naming
    /// the first few.
    /// </summary>
    public async Task BulkIndexAsync(string index, IReadOnlyCollection<BulkDocument> documents, CancellationToken cancellationToken)
    {
        if (documents.Count == 0)
        {
            return;
        }
        var body = new ArrayBufferWriter<byte>(documents.Count * 256);
        using (var writer = new Utf8JsonWriter(body, new JsonWriterOptions { SkipValidation = true }))
        {
            foreach (var document in documents)
            {
                // Action line, then source line; every line, the last included, ends with '\n'.
                writer.WriteStartObject();
                writer.WriteStartObject("index");
                writer.WriteString("_index", index);
                writer.WriteString("_id", document.Id);
                writer.WriteEndObject();
                writer.WriteEndObject();
                writer.Flush();
                body.Write("\n"u8);
                writer.Reset();
                JsonSerializer.Serialize(writer, document.Source, document.Source.GetType(), JsonSerializerOptions.Web);
                writer.Flush();
                body.Write("\n"u8);
                writer.Reset();
            }
        }
        var content = new ReadOnlyMemoryContent(body.WrittenMemory);
        content.Headers.ContentType = NdJson;
        using var response = await SendAsync(HttpMethod.Post, "_bulk", content, cancellationToken);
        await EnsureSuccessAsync(response, $"bulk index into {index}", cancellationToken);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        if (!json.RootElement.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.True)
        {
            return;
        }
        var failures = new List<string>();
        var failed = 0;
        var retryable = true;
        foreach (var item in json.RootElement.GetProperty("items").EnumerateArray())
        {
            foreach (var action in item.EnumerateObject())
            {
                if (action.Value.TryGetProperty("error", out var error))
                {
                    failed++;
                    // Only back-pressure (429: queue full) may pass on a second try; a rejected document stays rejected.
                    retryable &= action.Value.TryGetProperty("status", out var code) && code.ValueKind == JsonValueKind.Number && code.GetInt32() == 429;
                    if (failures.Count < 3)
                    {
                        var id = action.Value.TryGetProperty("_id", out var i) ? i.ToString() : "?";
                        var status = action.Value.TryGetProperty("status", out var s) ? s.ToString() : "?";
                        var reason = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("reason", out var r) ? r.GetString() : error.ToString();
                        var type = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("type", out var t) ? t.GetString() : null;
                        failures.Add($"document {id}: {status} {type}: {reason}");
                    }
                }
            }
        }
        throw new ElasticsearchException($"Bulk indexing into {index} failed for {failed} of {documents.Count} documents; {string.Join("; ", failures)}", retryable);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string relative, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(_node, relative)) { Content = content };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Authorization = _auth;
        return await _http.SendAsync(request, cancellationToken);
    }

    private static ByteArrayContent JsonContent(JsonNode body)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body));
        content.Headers.ContentType = Json;
        return content;
    }

    private static string Escape(string name) => Uri.EscapeDataString(name);

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new ElasticsearchException($"Elasticsearch refused to {what}: {(int)response.StatusCode} {(body.Length > 500 ? body[..500] : body)}");
    }
}

/// <summary>The current job's tenant search settings: its node and index prefix.</summary>
public sealed class TenantSearch(ITenantSettingsStore settings, ICurrentTenant currentTenant, IHttpClientFactory http)
{
    /// <summary>
    /// A client for the tenant's node and the tenant's index prefix; a tenant without <c>elasticsearchNode</c> and
    /// <c>elasticsearchIndex</c> fails the job permanently (retrying cannot help).
    /// </summary>
    public (ElasticsearchClient Client, string IndexPrefix) Connect()
    {
        var tenant = currentTenant.Id;
        var tenantSettings = settings.Find(tenant);
        var name = tenant?.Value ?? "(single tenant)";
        if (string.IsNullOrWhiteSpace(tenantSettings?.ElasticsearchNode) || string.IsNullOrWhiteSpace(tenantSettings.ElasticsearchIndex))
        {
            throw new PermanentJobFailureException(
                $"Search is not configured for tenant {name}: set elasticsearchNode and elasticsearchIndex in its tenant settings to reindex.");
        }
        if (!Uri.TryCreate(tenantSettings.ElasticsearchNode, UriKind.Absolute, out var node) || (node.Scheme != Uri.UriSchemeHttp && node.Scheme != Uri.UriSchemeHttps))
        {
            throw new PermanentJobFailureException($"The elasticsearchNode of tenant {name} is not an http(s) URL.");
        }
        return (new ElasticsearchClient(http.CreateClient(ElasticsearchClient.HttpClientName), node), tenantSettings.ElasticsearchIndex.Trim());
    }
}
