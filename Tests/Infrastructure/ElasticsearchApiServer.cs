using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tests.Infrastructure;

/// <summary>
/// An HTTP server on 127.0.0.1 that answers the part of the Elasticsearch 9.x REST API our code calls through the
/// official client (<c>Elastic.Clients.Elasticsearch</c>), and checks every request against the documented shape:
/// method and path, the client's compatibility media types (<c>application/vnd.elasticsearch+json;
/// compatible-with=9</c>, <c>+x-ndjson</c> for <c>_bulk</c>), the NDJSON of <c>_bulk</c> (action line with
/// <c>_index</c> and <c>_id</c> and no <c>_type</c>, then a source object, trailing newline), the <c>actions</c>
/// of <c>_aliases</c>, <c>mappings</c> in index creation, the query of <c>_delete_by_query</c> and <c>_search</c>.
/// Whatever does not conform is answered 400 and kept in <see cref="Violations"/>. Every answer carries
/// <c>X-Elastic-Product: Elasticsearch</c>, without which the client refuses to talk to a server. It keeps
/// indices (with their mappings), documents and aliases in memory; documents become searchable at refresh, and a
/// term query on a field the index does not map matches nothing, as in Elasticsearch with <c>dynamic: false</c>.
/// </summary>
internal sealed class ElasticsearchApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _pushedBack = new(StringComparer.Ordinal);

    private ElasticsearchApiServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public Dictionary<string, FakeIndex> Indices { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, HashSet<string>> Aliases { get; } = new(StringComparer.Ordinal);

    /// <summary>What happened, in order: <c>create x</c>, <c>bulk x n</c>, <c>refresh x</c>, <c>aliases ...</c>, <c>delete x</c>, <c>mapping x</c>, <c>delete_by_query x n</c>, <c>search x</c>.</summary>
    public List<string> Events { get; } = [];

    public List<string> Violations { get; } = [];

    /// <summary>Every request as it arrived: method, path and query, and the headers the checks are about.</summary>
    public List<ReceivedRequest> Requests { get; } = [];

    /// <summary>Every <c>_bulk</c> request: the index each action named, and how many documents it carried.</summary>
    public List<(string Index, int Count)> Bulks { get; } = [];

    /// <summary>Every <c>_aliases</c> request body.</summary>
    public List<JsonObject> AliasRequests { get; } = [];

    /// <summary>Every <c>_search</c> request body.</summary>
    public List<JsonObject> SearchRequests { get; } = [];

    /// <summary>Documents for which a bulk item answers with a mapping error (status 400).</summary>
    public Func<JsonObject, bool> RejectDocument { get; set; } = _ => false;

    /// <summary>Documents whose first bulk item answers 429 (queue full); sent again, they are indexed.</summary>
    public Func<JsonObject, bool> PushBackOnce { get; set; } = _ => false;

    public static async Task<ElasticsearchApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new ElasticsearchApiServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Url = new Uri(app.Urls.First());
        return server;
    }

    /// <summary>Documents visible to search through <paramref name="name"/> (an alias or an index).</summary>
    public IReadOnlyList<(string Index, string Id, JsonObject Source)> Search(string name)
    {
        lock (_gate)
        {
            return [.. Resolve(name).SelectMany(index => Indices[index].Searchable.Select(d => (index, d.Key, d.Value))).OrderBy(d => d.Key, StringComparer.Ordinal)];
        }
    }

    public IReadOnlyList<string> AliasTargets(string alias)
    {
        lock (_gate)
        {
            return Aliases.TryGetValue(alias, out var set) ? [.. set.Order(StringComparer.Ordinal)] : [];
        }
    }

    /// <summary>An index as an older setup left it: concrete, no alias, named like today's alias.</summary>
    public void AddLegacyIndex(string name, params (string Id, JsonObject Source)[] documents)
    {
        lock (_gate)
        {
            var index = new FakeIndex(new JsonObject { ["properties"] = new JsonObject() });
            foreach (var (id, source) in documents)
            {
                index.Documents[id] = source;
            }
            index.Refresh();
            Indices[name] = index;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        // The client compresses request bodies (Elasticsearch accepts gzip); Content-Encoding says so.
        if (context.Request.Headers.ContentEncoding.ToString() == "gzip")
        {
            await using var gzip = new System.IO.Compression.GZipStream(context.Request.Body, System.IO.Compression.CompressionMode.Decompress);
            await gzip.CopyToAsync(buffer);
        }
        else
        {
            await context.Request.Body.CopyToAsync(buffer);
        }
        var body = buffer.ToArray();
        var method = context.Request.Method;
        var path = Uri.UnescapeDataString(context.Request.Path.Value ?? "/").Trim('/');
        var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        var contentType = context.Request.ContentType;
        (int Status, JsonNode? Body) answer;
        lock (_gate)
        {
            Requests.Add(new ReceivedRequest(method, path, context.Request.QueryString.Value ?? "", contentType,
                context.Request.Headers.Accept.ToString(), context.Request.Headers.Authorization.ToString(), context.Request.Headers.UserAgent.ToString()));
            try
            {
                RequireAccept(context.Request.Headers.Accept.ToString());
                answer = Dispatch(method, path, query, contentType, body);
            }
            catch (ApiViolation violation)
            {
                Violations.Add($"{method} /{path}: {violation.Message}");
                answer = (400, Error("illegal_argument_exception", violation.Message, 400));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException)
            {
                // A shape the checks above did not foresee (a number where a string belongs): a violation too.
                Violations.Add($"{method} /{path}: {e.Message}");
                answer = (400, Error("parsing_exception", e.Message, 400));
            }
        }
        context.Response.StatusCode = answer.Status;
        context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
        if (answer.Body is not null && !HttpMethods.IsHead(method))
        {
            // As Elasticsearch does: the compatibility media type to a client that asked for it, plain JSON otherwise.
            context.Response.ContentType = context.Request.Headers.Accept.ToString().Contains("application/vnd.elasticsearch+json", StringComparison.Ordinal)
                ? "application/vnd.elasticsearch+json;compatible-with=9"
                : "application/json";
            await context.Response.WriteAsync(answer.Body.ToJsonString());
        }
    }

    private (int, JsonNode?) Dispatch(string method, string path, Dictionary<string, string> query, string? contentType, byte[] body)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        switch (method, segments)
        {
            case ("POST", ["_bulk"]):
                return Bulk(contentType, body);
            case ("POST", ["_aliases"]):
                return UpdateAliases(contentType, body);
            case ("GET", ["_alias", var alias]):
                return Aliases.TryGetValue(alias, out var targets) && targets.Count > 0
                    ? (200, new JsonObject(targets.Select(t => KeyValuePair.Create(t, (JsonNode?)new JsonObject { ["aliases"] = new JsonObject { [alias] = new JsonObject() } }))))
                    : (404, new JsonObject { ["error"] = $"alias [{alias}] missing", ["status"] = 404 });
            case ("POST", [var target, "_refresh"]):
                var toRefresh = Resolve(target);
                if (toRefresh.Count == 0)
                {
                    return (404, Error("index_not_found_exception", $"no such index [{target}]", 404));
                }
                foreach (var index in toRefresh)
                {
                    Indices[index].Refresh();
                }
                Events.Add($"refresh {target}");
                return (200, new JsonObject { ["_shards"] = new JsonObject { ["total"] = 1, ["successful"] = 1, ["failed"] = 0 } });
            case ("PUT", [var target, "_mapping"]):
                return PutMapping(target, contentType, body);
            case ("POST", [var target, "_delete_by_query"]):
                return DeleteByQuery(target, query, contentType, body);
            case ("POST" or "GET", [var targets2, "_search"]):
                return SearchApi(targets2, query, contentType, body);
            case ("HEAD", [var name]):
                return (Indices.ContainsKey(name) || Aliases.ContainsKey(name) ? 200 : 404, null);
            case ("PUT", [var name]):
                return CreateIndex(name, contentType, body);
            case ("DELETE", [var name]):
                if (!Indices.Remove(name))
                {
                    return (404, Error("index_not_found_exception", $"no such index [{name}]", 404));
                }
                foreach (var set in Aliases.Values)
                {
                    set.Remove(name);
                }
                Events.Add($"delete {name}");
                return (200, new JsonObject { ["acknowledged"] = true });
            default:
                throw new ApiViolation("not an API our code should call (type names are gone since 7.x).");
        }
    }

    private (int, JsonNode?) CreateIndex(string name, string? contentType, byte[] body)
    {
        RequireJson(contentType);
        if (name.Any(char.IsUpper) || name.StartsWith('_') || name.StartsWith('-'))
        {
            throw new ApiViolation($"invalid index name [{name}]: must be lowercase and not start with _ or -.");
        }
        if (Indices.ContainsKey(name) || Aliases.ContainsKey(name))
        {
            return (400, Error("resource_already_exists_exception", $"index [{name}] already exists", 400));
        }
        var json = Parse(body) as JsonObject ?? throw new ApiViolation("the index definition must be a JSON object.");
        if (json["mappings"] is not JsonObject mappings || mappings["properties"] is not JsonObject)
        {
            throw new ApiViolation("the index definition has no mappings.properties: field types would depend on the first document.");
        }
        if (mappings.Any(p => p.Key is not ("properties" or "dynamic" or "_source")))
        {
            throw new ApiViolation("mappings must not be keyed by a type name.");
        }
        Indices[name] = new FakeIndex(mappings);
        Events.Add($"create {name}");
        return (200, new JsonObject { ["acknowledged"] = true, ["shards_acknowledged"] = true, ["index"] = name });
    }

    private (int, JsonNode?) PutMapping(string target, string? contentType, byte[] body)
    {
        RequireJson(contentType);
        var json = Parse(body) as JsonObject ?? throw new ApiViolation("the mapping must be a JSON object.");
        if (json["properties"] is not JsonObject properties || json.Count != 1)
        {
            throw new ApiViolation("a mapping update is {\"properties\": {...}} (no type name).");
        }
        var indices = Resolve(target);
        if (indices.Count == 0)
        {
            return (404, Error("index_not_found_exception", $"no such index [{target}]", 404));
        }
        foreach (var index in indices)
        {
            var mapped = Indices[index].Mappings["properties"]!.AsObject();
            foreach (var (field, definition) in properties)
            {
                if (mapped[field] is { } existing && existing["type"]?.ToString() != definition?["type"]?.ToString())
                {
                    return (400, Error("illegal_argument_exception", $"mapper [{field}] cannot be changed", 400));
                }
                mapped[field] = definition?.DeepClone();
            }
        }
        Events.Add($"mapping {target} {string.Join(",", properties.Select(p => p.Key))}");
        return (200, new JsonObject { ["acknowledged"] = true });
    }

    private (int, JsonNode?) DeleteByQuery(string target, Dictionary<string, string> query, string? contentType, byte[] body)
    {
        RequireJson(contentType);
        var json = Parse(body) as JsonObject ?? throw new ApiViolation("the body must be a JSON object.");
        if (json["query"] is not JsonObject q)
        {
            throw new ApiViolation("_delete_by_query needs a query.");
        }
        var indices = Resolve(target);
        if (indices.Count == 0)
        {
            return (404, Error("index_not_found_exception", $"no such index [{target}]", 404));
        }
        long deleted = 0;
        foreach (var index in indices)
        {
            var fake = Indices[index];
            // Like Elasticsearch: the query runs on what the last refresh made searchable.
            foreach (var (id, source) in fake.Searchable.Where(d => Matches(fake, q, d.Value)).ToList())
            {
                if (fake.Documents.TryGetValue(id, out var current) && JsonNode.DeepEquals(current, source))
                {
                    fake.Documents.Remove(id);
                    deleted++;
                }
            }
            if (query.TryGetValue("refresh", out var refresh) && refresh == "true")
            {
                fake.Refresh();
            }
        }
        Events.Add($"delete_by_query {target} {deleted}");
        return (200, new JsonObject
        {
            ["took"] = 1, ["timed_out"] = false, ["total"] = deleted, ["deleted"] = deleted, ["batches"] = 1, ["version_conflicts"] = 0,
            ["noops"] = 0, ["retries"] = new JsonObject { ["bulk"] = 0, ["search"] = 0 }, ["throttled_millis"] = 0,
            ["requests_per_second"] = -1.0, ["throttled_until_millis"] = 0, ["failures"] = new JsonArray(),
        });
    }

    /// <summary>
    /// A small <c>_search</c>: <c>multi_match</c> over the listed fields, where a query word matches a field that
    /// contains it (case-insensitive; "expire" matches "expired"), hits ordered by matched words, <c>from</c>/<c>size</c>,
    /// and highlights of the requested fields between the requested tags.
    /// </summary>
    private (int, JsonNode?) SearchApi(string targets, Dictionary<string, string> query, string? contentType, byte[] body)
    {
        RequireJson(contentType);
        var json = Parse(body) as JsonObject ?? throw new ApiViolation("the body must be a JSON object.");
        SearchRequests.Add((JsonObject)json.DeepClone());
        if (json["query"]?["multi_match"] is not JsonObject match || match["query"]?.GetValue<string>() is not { } text
            || match["fields"] is not JsonArray fieldList)
        {
            throw new ApiViolation("expected a multi_match query with query and fields.");
        }
        var ignoreUnavailable = query.TryGetValue("ignore_unavailable", out var ignore) && ignore == "true";
        var indices = new List<string>();
        foreach (var name in targets.Split(','))
        {
            var resolved = Resolve(name);
            if (resolved.Count == 0 && !ignoreUnavailable)
            {
                return (404, Error("index_not_found_exception", $"no such index [{name}]", 404));
            }
            indices.AddRange(resolved);
        }
        var fields = fieldList.Select(f => f!.GetValue<string>().Split('^')[0]).ToList();
        var words = text.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var matches = indices.Distinct().SelectMany(index => Indices[index].Searchable.Select(d => (Index: index, Id: d.Key, Source: d.Value)))
            .Select(d => (Doc: d, Score: words.Count(w => fields.Any(f => d.Source[f]?.ToString().Contains(w, StringComparison.OrdinalIgnoreCase) == true))))
            .Where(m => m.Score > 0).OrderByDescending(m => m.Score).ThenBy(m => m.Doc.Id, StringComparer.Ordinal).ToList();
        var from = json["from"]?.GetValue<int>() ?? 0;
        var size = json["size"]?.GetValue<int>() ?? 10;
        var highlight = json["highlight"] as JsonObject;
        var pre = highlight?["pre_tags"]?[0]?.GetValue<string>() ?? "<em>";
        var post = highlight?["post_tags"]?[0]?.GetValue<string>() ?? "</em>";
        var hits = new JsonArray();
        foreach (var (doc, score) in matches.Skip(from).Take(size))
        {
            var hit = new JsonObject { ["_index"] = doc.Index, ["_id"] = doc.Id, ["_score"] = (double)score, ["_source"] = doc.Source.DeepClone() };
            if (HighlightFields(highlight) is { Count: > 0 } highlightFields)
            {
                var marked = new JsonObject();
                foreach (var field in highlightFields)
                {
                    if (doc.Source[field]?.ToString() is { } value && words.Any(w => value.Contains(w, StringComparison.OrdinalIgnoreCase)))
                    {
                        marked[field] = new JsonArray(Mark(value, words, pre, post));
                    }
                }
                if (marked.Count > 0)
                {
                    hit["highlight"] = marked;
                }
            }
            hits.Add(hit);
        }
        Events.Add($"search {targets}");
        return (200, new JsonObject
        {
            ["took"] = 1, ["timed_out"] = false,
            ["_shards"] = new JsonObject { ["total"] = 1, ["successful"] = 1, ["skipped"] = 0, ["failed"] = 0 },
            ["hits"] = new JsonObject { ["total"] = new JsonObject { ["value"] = matches.Count, ["relation"] = "eq" }, ["max_score"] = matches.Count == 0 ? null : (double)matches[0].Score, ["hits"] = hits },
        });
    }

    /// <summary><c>highlight.fields</c> as an object or, as the client sends it to keep their order, an array of one-key objects.</summary>
    public static IReadOnlyList<string> HighlightFields(JsonObject? highlight) => highlight?["fields"] switch
    {
        JsonObject fields => [.. fields.Select(f => f.Key)],
        JsonArray fields => [.. fields.Select(f => f is JsonObject { Count: 1 } one ? one.First().Key : throw new ApiViolation("each highlight field is an object with one key."))],
        null => [],
        _ => throw new ApiViolation("highlight.fields is an object or an array."),
    };

    private static string Mark(string value, string[] words, string pre, string post)
    {
        var builder = new StringBuilder();
        var i = 0;
        while (i < value.Length)
        {
            var word = words.FirstOrDefault(w => string.Compare(value, i, w, 0, w.Length, StringComparison.OrdinalIgnoreCase) == 0);
            if (word is null)
            {
                builder.Append(value[i++]);
                continue;
            }
            builder.Append(pre).Append(value, i, word.Length).Append(post);
            i += word.Length;
        }
        return builder.ToString();
    }

    /// <summary><c>bool</c> (filter, must, must_not), <c>term</c> (short or <c>{value}</c> form), <c>match_all</c>.</summary>
    private static bool Matches(FakeIndex index, JsonObject query, JsonObject source)
    {
        if (query.Count != 1)
        {
            throw new ApiViolation($"a query has exactly one kind, not {query.ToJsonString()}.");
        }
        var (kind, value) = query.First();
        switch (kind)
        {
            case "match_all":
                return true;
            case "term" when value is JsonObject { Count: 1 } term:
                var (field, expected) = term.First();
                var wanted = expected is JsonObject withValue ? withValue["value"] : expected;
                // An unmapped field is not indexed (dynamic: false): a term query on it finds nothing.
                return index.Mappings["properties"]?[field] is not null && source[field] is { } actual && actual.ToJsonString() == wanted?.ToJsonString();
            case "bool" when value is JsonObject clauses:
                if (clauses.Any(c => c.Key is not ("filter" or "must" or "must_not")))
                {
                    throw new ApiViolation($"unsupported bool clause in {clauses.ToJsonString()}.");
                }
                IEnumerable<JsonObject> Clauses(string name) => clauses[name] switch
                {
                    JsonArray array => array.Select(c => c as JsonObject ?? throw new ApiViolation("a clause is an object.")),
                    JsonObject single => [single],
                    null => [],
                    _ => throw new ApiViolation("a bool clause is an object or an array."),
                };
                return Clauses("filter").Concat(Clauses("must")).All(c => Matches(index, c, source)) && !Clauses("must_not").Any(c => Matches(index, c, source));
            default:
                throw new ApiViolation($"query '{kind}' is not one the stand-in knows.");
        }
    }

    private (int, JsonNode?) Bulk(string? contentType, byte[] body)
    {
        if (contentType is null || !(contentType.StartsWith("application/x-ndjson", StringComparison.Ordinal) || contentType.StartsWith("application/vnd.elasticsearch+x-ndjson", StringComparison.Ordinal)))
        {
            throw new ApiViolation($"_bulk needs Content-Type application/x-ndjson (or the compatibility type), not '{contentType}'.");
        }
        if (body.Length == 0 || body[^1] != (byte)'\n')
        {
            throw new ApiViolation("the final line of a _bulk body must end with a newline.");
        }
        var lines = Encoding.UTF8.GetString(body, 0, body.Length - 1).Split('\n');
        if (lines.Length % 2 != 0)
        {
            throw new ApiViolation("index actions come in pairs of lines: action, then source.");
        }
        var items = new JsonArray();
        var errors = false;
        string? bulkIndex = null;
        for (var i = 0; i < lines.Length; i += 2)
        {
            var action = Parse(Encoding.UTF8.GetBytes(lines[i])) as JsonObject ?? throw new ApiViolation($"line {i + 1} is not an action object.");
            if (action.Count != 1 || action["index"] is not JsonObject meta)
            {
                throw new ApiViolation($"line {i + 1} must be {{\"index\":{{...}}}}.");
            }
            if (meta["_type"] is not null)
            {
                throw new ApiViolation($"line {i + 1} has _type: mapping types are removed in 7.x.");
            }
            if (meta["_index"]?.GetValue<string>() is not { Length: > 0 } target || meta["_id"]?.GetValue<string>() is not { Length: > 0 } id)
            {
                throw new ApiViolation($"line {i + 1} must name _index and _id (as strings).");
            }
            var source = Parse(Encoding.UTF8.GetBytes(lines[i + 1])) as JsonObject ?? throw new ApiViolation($"line {i + 2} is not a source object.");
            var concrete = Resolve(target);
            if (concrete.Count != 1)
            {
                throw new ApiViolation($"_index [{target}] is neither an index nor an alias with one index (the worker must not rely on auto-creation).");
            }
            bulkIndex ??= target;
            if (RejectDocument(source))
            {
                errors = true;
                items.Add(ItemError(concrete[0], id, 400, "mapper_parsing_exception", $"failed to parse field [title] of document [{id}]"));
                continue;
            }
            if (PushBackOnce(source) && _pushedBack.TryAdd(id, 1))
            {
                errors = true;
                items.Add(ItemError(concrete[0], id, 429, "es_rejected_execution_exception", "rejected execution: write queue full"));
                continue;
            }
            var created = Indices[concrete[0]].Documents.TryAdd(id, source);
            if (!created)
            {
                Indices[concrete[0]].Documents[id] = source;
            }
            items.Add(new JsonObject
            {
                ["index"] = new JsonObject
                {
                    ["_index"] = concrete[0], ["_id"] = id, ["_version"] = 1, ["result"] = created ? "created" : "updated", ["status"] = created ? 201 : 200,
                    ["_shards"] = new JsonObject { ["total"] = 1, ["successful"] = 1, ["failed"] = 0 }, ["_seq_no"] = 0, ["_primary_term"] = 1,
                },
            });
        }
        Bulks.Add((bulkIndex!, lines.Length / 2));
        Events.Add($"bulk {bulkIndex} {lines.Length / 2}");
        return (200, new JsonObject { ["took"] = 1, ["errors"] = errors, ["items"] = items });
    }

    private static JsonObject ItemError(string index, string id, int status, string type, string reason) => new()
    {
        ["index"] = new JsonObject
        {
            ["_index"] = index, ["_id"] = id, ["status"] = status,
            ["error"] = new JsonObject { ["type"] = type, ["reason"] = reason },
        },
    };

    private (int, JsonNode?) UpdateAliases(string? contentType, byte[] body)
    {
        RequireJson(contentType);
        var json = Parse(body) as JsonObject ?? throw new ApiViolation("the body must be a JSON object.");
        if (json.Count != 1 || json["actions"] is not JsonArray { Count: > 0 } actions)
        {
            throw new ApiViolation("the body must be {\"actions\": [ ... ]} with at least one action.");
        }
        // Validate everything first: the real API applies all actions or none.
        var steps = new List<(string Kind, string Index, string? Alias)>();
        foreach (var node in actions)
        {
            if (node is not JsonObject { Count: 1 } action)
            {
                throw new ApiViolation("each action is an object with exactly one key.");
            }
            var (kind, value) = action.First();
            if (kind is not ("add" or "remove" or "remove_index") || value is not JsonObject args || args["index"]?.GetValue<string>() is not { } index)
            {
                throw new ApiViolation($"unknown or malformed alias action '{kind}'.");
            }
            var alias = args["alias"]?.GetValue<string>();
            if (kind != "remove_index" && alias is null)
            {
                throw new ApiViolation($"'{kind}' needs index and alias.");
            }
            if (!Indices.ContainsKey(index))
            {
                return (404, Error("index_not_found_exception", $"no such index [{index}]", 404));
            }
            if (kind == "remove" && !(Aliases.TryGetValue(alias!, out var set) && set.Contains(index)))
            {
                return (404, Error("aliases_not_found_exception", $"aliases [{alias}] missing", 404));
            }
            steps.Add((kind, index, alias));
        }
        foreach (var (kind, index, alias) in steps.Where(s => s.Kind == "add"))
        {
            if (Indices.ContainsKey(alias!) && !steps.Any(s => s.Kind == "remove_index" && s.Index == alias))
            {
                return (400, Error("invalid_alias_name_exception", $"an index exists with the same name as the alias [{alias}]", 400));
            }
        }
        foreach (var (kind, index, alias) in steps)
        {
            switch (kind)
            {
                case "add":
                    if (!Aliases.TryGetValue(alias!, out var set))
                    {
                        Aliases[alias!] = set = new HashSet<string>(StringComparer.Ordinal);
                    }
                    set.Add(index);
                    break;
                case "remove":
                    Aliases[alias!].Remove(index);
                    break;
                default:
                    Indices.Remove(index);
                    break;
            }
        }
        AliasRequests.Add((JsonObject)json.DeepClone());
        Events.Add("aliases " + string.Join(", ", steps.Select(s => $"{s.Kind} {s.Index}{(s.Alias is null ? "" : " -> " + s.Alias)}")));
        return (200, new JsonObject { ["acknowledged"] = true });
    }

    private List<string> Resolve(string name) =>
        Indices.ContainsKey(name) ? [name] : Aliases.TryGetValue(name, out var set) ? [.. set] : [];

    private static void RequireJson(string? contentType)
    {
        if (contentType is null || !(contentType.StartsWith("application/json", StringComparison.Ordinal) || contentType.StartsWith("application/vnd.elasticsearch+json", StringComparison.Ordinal)))
        {
            throw new ApiViolation($"expected Content-Type application/json (or the compatibility type), not '{contentType}'.");
        }
    }

    // The 9.x client asks for the compatibility media type; a client that asks for nothing JSON is not ours.
    private static void RequireAccept(string accept)
    {
        if (!(accept.Contains("application/vnd.elasticsearch+json", StringComparison.Ordinal) || accept.Contains("application/json", StringComparison.Ordinal)))
        {
            throw new ApiViolation($"expected Accept application/vnd.elasticsearch+json or application/json, not '{accept}'.");
        }
    }

    private static JsonNode? Parse(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw new ApiViolation($"the body is not JSON: {e.Message}");
        }
    }

    private static JsonObject Error(string type, string reason, int status) =>
        new() { ["error"] = new JsonObject { ["type"] = type, ["reason"] = reason, ["root_cause"] = new JsonArray(new JsonObject { ["type"] = type, ["reason"] = reason }) }, ["status"] = status };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class ApiViolation(string message) : Exception(message);
}

/// <summary>One request the stand-in received.</summary>
internal sealed record ReceivedRequest(string Method, string Path, string Query, string? ContentType, string Accept, string Authorization, string UserAgent);

internal sealed class FakeIndex(JsonObject mappings)
{
    public JsonObject Mappings { get; } = mappings;

    public Dictionary<string, JsonObject> Documents { get; } = new(StringComparer.Ordinal);

    /// <summary>What search sees: the documents as of the last refresh.</summary>
    public Dictionary<string, JsonObject> Searchable { get; private set; } = new(StringComparer.Ordinal);

    public void Refresh() => Searchable = new Dictionary<string, JsonObject>(Documents, StringComparer.Ordinal);
}
