using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tests.Workers;

/// <summary>
/// An HTTP server on 127.0.0.1 that answers the part of the Elasticsearch 7.x/8.x REST API the reindex worker uses
/// and checks every request against the documented shape: method and path, content type, the NDJSON of
/// <c>_bulk</c> (action line with <c>_index</c> and <c>_id</c> and no <c>_type</c>, then a source object, trailing
/// newline), the <c>actions</c> of <c>_aliases</c>, <c>mappings</c> in index creation. Whatever does not conform is
/// answered 400 and kept in <see cref="Violations"/>. It keeps indices, documents and aliases in memory
/// (documents become searchable at refresh, as in Elasticsearch) so tests can search through an alias.
/// </summary>
internal sealed class ElasticsearchApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();

    private ElasticsearchApiServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public Dictionary<string, FakeIndex> Indices { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, HashSet<string>> Aliases { get; } = new(StringComparer.Ordinal);

    /// <summary>What happened, in order: <c>create x</c>, <c>bulk x n</c>, <c>refresh x</c>, <c>aliases ...</c>, <c>delete x</c>.</summary>
    public List<string> Events { get; } = [];

    public List<string> Violations { get; } = [];

    /// <summary>Every <c>_bulk</c> request: the index each action named, and how many documents it carried.</summary>
    public List<(string Index, int Count)> Bulks { get; } = [];

    /// <summary>Every <c>_aliases</c> request body.</summary>
    public List<JsonObject> AliasRequests { get; } = [];

    /// <summary>Documents for which a bulk item answers with a mapping error (status 400).</summary>
    public Func<JsonObject, bool> RejectDocument { get; set; } = _ => false;

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
            var index = new FakeIndex(new JsonObject());
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
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var method = context.Request.Method;
        var path = Uri.UnescapeDataString(context.Request.Path.Value ?? "/").Trim('/');
        var contentType = context.Request.ContentType;
        (int Status, JsonNode? Body) answer;
        lock (_gate)
        {
            try
            {
                answer = Dispatch(method, path, contentType, body);
            }
            catch (ApiViolation violation)
            {
                Violations.Add($"{method} /{path}: {violation.Message}");
                answer = (400, Error("illegal_argument_exception", violation.Message, 400));
            }
        }
        context.Response.StatusCode = answer.Status;
        if (answer.Body is not null && !HttpMethods.IsHead(method))
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer.Body.ToJsonString());
        }
    }

    private (int, JsonNode?) Dispatch(string method, string path, string? contentType, byte[] body)
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
                return (200, new JsonObject { ["_shards"] = new JsonObject { ["failed"] = 0 } });
            case ("POST" or "GET", [var targets2, "_search"]):
                var hits = targets2.Split(',').SelectMany(Resolve).Distinct()
                    .SelectMany(index => Indices[index].Searchable.Select(d => new JsonObject { ["_index"] = index, ["_id"] = d.Key, ["_source"] = d.Value.DeepClone() }))
                    .ToArray<JsonNode?>();
                return (200, new JsonObject { ["hits"] = new JsonObject { ["hits"] = new JsonArray(hits) } });
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
                throw new ApiViolation($"not an API the reindex worker should call (type names are gone since 7.x).");
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
        return (200, new JsonObject { ["acknowledged"] = true, ["index"] = name });
    }

    private (int, JsonNode?) Bulk(string? contentType, byte[] body)
    {
        if (contentType is null || !contentType.StartsWith("application/x-ndjson", StringComparison.Ordinal))
        {
            throw new ApiViolation($"_bulk needs Content-Type application/x-ndjson, not '{contentType}'.");
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
                throw new ApiViolation($"line {i + 1} has _type: mapping types are removed in 7.x/8.x.");
            }
            if (meta["_index"]?.GetValue<string>() is not { Length: > 0 } target || meta["_id"]?.GetValue<string>() is not { Length: > 0 } id)
            {
                throw new ApiViolation($"line {i + 1} must name _index and _id.");
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
                items.Add(new JsonObject
                {
                    ["index"] = new JsonObject
                    {
                        ["_index"] = concrete[0], ["_id"] = id, ["status"] = 400,
                        ["error"] = new JsonObject { ["type"] = "mapper_parsing_exception", ["reason"] = "failed to parse field [title]" },
                    },
                });
                continue;
            }
            var created = Indices[concrete[0]].Documents.TryAdd(id, source);
            if (!created)
            {
                Indices[concrete[0]].Documents[id] = source;
            }
            items.Add(new JsonObject
            {
                ["index"] = new JsonObject { ["_index"] = concrete[0], ["_id"] = id, ["status"] = created ? 201 : 200, ["result"] = created ? "created" : "updated" },
            });
        }
        Bulks.Add((bulkIndex!, lines.Length / 2));
        Events.Add($"bulk {bulkIndex} {lines.Length / 2}");
        return (200, new JsonObject { ["took"] = 1, ["errors"] = errors, ["items"] = items });
    }

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
        if (contentType is null || !contentType.StartsWith("application/json", StringComparison.Ordinal))
        {
            throw new ApiViolation($"expected Content-Type application/json, not '{contentType}'.");
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
        new() { ["error"] = new JsonObject { ["type"] = type, ["reason"] = reason }, ["status"] = status };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class ApiViolation(string message) : Exception(message);
}

internal sealed class FakeIndex(JsonObject mappings)
{
    public JsonObject Mappings { get; } = mappings;

    public Dictionary<string, JsonObject> Documents { get; } = new(StringComparer.Ordinal);

    /// <summary>What search sees: the documents as of the last refresh.</summary>
    public Dictionary<string, JsonObject> Searchable { get; private set; } = new(StringComparer.Ordinal);

    public void Refresh() => Searchable = new Dictionary<string, JsonObject>(Documents, StringComparer.Ordinal);
}
