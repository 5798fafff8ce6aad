using System.Globalization;
using System.Text.Json.Nodes;
using Domain.Jobs;
using Npgsql;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>
/// <c>reindex</c>: copies the tenant's cases, runs and issues into its Elasticsearch indices. Searches go through
/// the alias <c>&lt;elasticsearchIndex&gt;-&lt;entity&gt;</c> (entity = cases|runs|issues).
/// <list type="bullet">
/// <item>A full reindex (scope all, or one entity type) builds a new concrete index
/// <c>&lt;elasticsearchIndex&gt;-&lt;utc timestamp&gt;-&lt;entity&gt;</c> with explicit mappings, bulk-loads and refreshes it,
/// then moves the alias to it in one atomic <c>_aliases</c> call and deletes the indices the alias left. Search
/// never sees a half-built index; a failed load deletes the new index and leaves the alias where it was.</item>
/// <item>A project reindex upserts that project's documents through the alias (documents of deleted rows are left
/// until the next full reindex).</item>
/// </list>
/// Rows are read in keyset-paged batches (<c>WHERE id &gt; @last ORDER BY id LIMIT @batch</c>), one <c>_bulk</c>
/// request per batch, so memory follows the batch size and never the table size.
/// </summary>
/// <remarks>
/// The entity stays the last dash-separated part of the concrete index name because the web app's search reads
/// the entity type of a hit from the end of its <c>_index</c>.
/// </remarks>
public sealed class ReindexHandler(JobDatabase database, TenantSearch search, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<ReindexPayload>();
        if (payload.BatchSize is < 1 or > ReindexPayload.MaxBatchSize)
        {
            throw new PermanentJobFailureException($"The batch size must be between 1 and {ReindexPayload.MaxBatchSize}; it was {payload.BatchSize}.");
        }
        var entities = payload.Scope switch
        {
            ReindexScope.All or ReindexScope.Project => SearchEntity.All,
            ReindexScope.EntityType => SearchEntity.All.Where(e => e.Type == payload.EntityType).ToList() is { Count: 1 } one
                ? one
                : throw new PermanentJobFailureException($"Unknown entity type '{payload.EntityType}'; expected one of: {string.Join(", ", SearchEntityTypes.All)}."),
            _ => throw new PermanentJobFailureException($"Unknown reindex scope '{payload.Scope}'."),
        };
        if (payload.Scope == ReindexScope.Project && payload.ProjectId is null)
        {
            throw new PermanentJobFailureException("A project reindex needs projectId.");
        }

        var (client, prefix) = search.Connect();
        // Checks the tenant marker before anything of this database is read.
        await database.ContextAsync(cancellationToken);
        var run = new Run(context, database.DataSource, client, payload.BatchSize, payload.Scope == ReindexScope.Project ? payload.ProjectId : null);
        try
        {
            foreach (var entity in entities)
            {
                var alias = $"{prefix}-{entity.Type}";
                if (run.ProjectId is null)
                {
                    await RebuildAsync(run, entity, alias, prefix, cancellationToken);
                }
                else
                {
                    await EnsureAliasAsync(run.Client, entity, alias, prefix, cancellationToken);
                    await run.LoadAsync(entity, alias, cancellationToken);
                    await run.Client.RefreshAsync(alias, cancellationToken);
                }
            }
        }
        catch (ElasticsearchException e) when (!e.Retryable)
        {
            throw new PermanentJobFailureException(e.Message, e);
        }
    }

    private async Task RebuildAsync(Run run, SearchEntity entity, string alias, string prefix, CancellationToken cancellationToken)
    {
        var index = NewIndexName(prefix, entity);
        await run.Client.CreateIndexAsync(index, entity.IndexDefinition(), cancellationToken);
        IReadOnlyList<string> previous;
        try
        {
            await run.LoadAsync(entity, index, cancellationToken);
            await run.Client.RefreshAsync(index, cancellationToken);
            previous = await run.Client.GetAliasIndicesAsync(alias, cancellationToken);
            var actions = previous.Select(old => Action("remove", new JsonObject { ["index"] = old, ["alias"] = alias })).ToList();
            if (previous.Count == 0 && await run.Client.ExistsAsync(alias, cancellationToken))
            {
                // An older setup wrote to a concrete index named like the alias: drop it in the same atomic step.
                actions.Add(Action("remove_index", new JsonObject { ["index"] = alias }));
            }
            actions.Add(Action("add", new JsonObject { ["index"] = index, ["alias"] = alias }));
            await run.Client.UpdateAliasesAsync(actions, cancellationToken);
        }
        catch
        {
            // The alias still points at the previous index; the half-built one is of no use to anyone.
            await run.Client.DeleteIndexAsync(index, CancellationToken.None);
            throw;
        }
        foreach (var old in previous)
        {
            await run.Client.DeleteIndexAsync(old, cancellationToken);
        }
    }

    /// <summary>A project reindex writes through the alias; the first one ever creates the index and alias.</summary>
    private async Task EnsureAliasAsync(ElasticsearchClient client, SearchEntity entity, string alias, string prefix, CancellationToken cancellationToken)
    {
        if (await client.ExistsAsync(alias, cancellationToken))
        {
            return;
        }
        var index = NewIndexName(prefix, entity);
        await client.CreateIndexAsync(index, entity.IndexDefinition(), cancellationToken);
        await client.UpdateAliasesAsync([Action("add", new JsonObject { ["index"] = index, ["alias"] = alias })], cancellationToken);
    }

    private string NewIndexName(string prefix, SearchEntity entity) =>
        $"{prefix}-{time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd't'HHmmssfff", CultureInfo.InvariantCulture)}-{entity.Type}";

    private static JsonObject Action(string name, JsonObject body) => new() { [name] = body };

    private sealed class Run(JobContext context, NpgsqlDataSource dataSource, ElasticsearchClient client, int batchSize, long? projectId)
    {
        public ElasticsearchClient Client => client;

        public long? ProjectId => projectId;

        /// <summary>Every row of the entity (of the project, if any) into <paramref name="target"/>, one bulk request per batch.</summary>
        public async Task LoadAsync(SearchEntity entity, string target, CancellationToken cancellationToken)
        {
            long total;
            await using (var count = dataSource.CreateCommand(entity.CountSql(projectId is not null)))
            {
                AddProject(count);
                total = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            }
            long indexed = 0;
            long last = 0;
            await context.ReportProgressAsync(new ReindexProgress(entity.Type, indexed, total, Percent(indexed, total)));
            await using var page = dataSource.CreateCommand(entity.PageSql(projectId is not null));
            var lastParameter = page.Parameters.AddWithValue("last", last);
            page.Parameters.AddWithValue("batch", batchSize);
            AddProject(page);
            var batch = new List<BulkDocument>(batchSize);
            while (true)
            {
                batch.Clear();
                lastParameter.Value = last;
                await using (var reader = await page.ExecuteReaderAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        batch.Add(entity.Read(reader));
                    }
                }
                if (batch.Count == 0)
                {
                    break;
                }
                await client.BulkIndexAsync(target, batch, cancellationToken);
                indexed += batch.Count;
                last = long.Parse(batch[^1].Id, CultureInfo.InvariantCulture);
                await context.ReportProgressAsync(new ReindexProgress(entity.Type, indexed, Math.Max(total, indexed), Percent(indexed, total)));
                if (batch.Count < batchSize)
                {
                    break;
                }
            }
        }

        private void AddProject(NpgsqlCommand command)
        {
            if (projectId is { } id)
            {
                command.Parameters.AddWithValue("project", id);
            }
        }

        private static int Percent(long done, long total) => total == 0 ? 100 : (int)Math.Min(100, done * 100 / total);
    }
}

/// <summary>What a reindex job reports as it goes, per entity type.</summary>
public sealed record ReindexProgress(string Entity, long Indexed, long Total, int Percent);

/// <summary>One searchable entity type: where its rows come from, its documents and its index mappings.</summary>
internal sealed class SearchEntity
{
    public static readonly IReadOnlyList<SearchEntity> All =
    [
        new(SearchEntityTypes.Cases,
            "SELECT c.id, c.project_id, c.title, c.description, c.external_ref, c.created_at FROM test_cases c",
            "c", "c.project_id",
            r => new BulkDocument(Id(r), new CaseDocument(r.GetInt64(0), r.GetInt64(1), r.GetString(2), Text(r, 3), Text(r, 4), r.GetFieldValue<DateTimeOffset>(5))),
            new JsonObject
            {
                ["id"] = Field("long"), ["projectId"] = Field("long"), ["title"] = Field("text"), ["description"] = Field("text"),
                ["externalRef"] = Field("keyword"), ["createdAt"] = Field("date"),
            }),
        new(SearchEntityTypes.Runs,
            "SELECT r.id, r.project_id, r.name, r.created_at FROM test_runs r",
            "r", "r.project_id",
            r => new BulkDocument(Id(r), new RunDocument(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3))),
            new JsonObject
            {
                ["id"] = Field("long"), ["projectId"] = Field("long"), ["name"] = Field("text"), ["createdAt"] = Field("date"),
            }),
        new(SearchEntityTypes.Issues,
            "SELECT i.id, t.project_id, i.key, i.title, i.status, i.url FROM external_issues i JOIN tracker_integrations t ON t.id = i.integration_id",
            "i", "t.project_id",
            r => new BulkDocument(Id(r), new IssueDocument(r.GetInt64(0), r.GetInt64(1), r.GetString(2), Text(r, 3), Text(r, 4), Text(r, 5))),
            new JsonObject
            {
                ["id"] = Field("long"), ["projectId"] = Field("long"),
                ["key"] = new JsonObject { ["type"] = "text", ["fields"] = new JsonObject { ["raw"] = Field("keyword") } },
                ["title"] = Field("text"), ["status"] = Field("text"), ["url"] = Field("keyword"),
            }),
    ];

    private readonly string _select;
    private readonly string _alias;
    private readonly string _projectColumn;
    private readonly Func<NpgsqlDataReader, BulkDocument> _read;
    private readonly JsonObject _properties;

    private SearchEntity(string type, string select, string alias, string projectColumn, Func<NpgsqlDataReader, BulkDocument> read, JsonObject properties)
    {
        Type = type;
        _select = select;
        _alias = alias;
        _projectColumn = projectColumn;
        _read = read;
        _properties = properties;
    }

    public string Type { get; }

    public string CountSql(bool byProject) => $"SELECT count(*) FROM ({_select}{(byProject ? $" WHERE {_projectColumn} = @project" : "")}) AS rows";

    public string PageSql(bool byProject) =>
        $"{_select} WHERE {_alias}.id > @last{(byProject ? $" AND {_projectColumn} = @project" : "")} ORDER BY {_alias}.id LIMIT @batch";

    public BulkDocument Read(NpgsqlDataReader reader) => _read(reader);

    /// <summary>The body of <c>PUT /{index}</c>: explicit mappings, so field types never depend on the first document.</summary>
    public JsonObject IndexDefinition() => new()
    {
        ["mappings"] = new JsonObject { ["dynamic"] = false, ["properties"] = _properties.DeepClone() },
    };

    private static string Id(NpgsqlDataReader reader) => reader.GetInt64(0).ToString(CultureInfo.InvariantCulture);

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static JsonObject Field(string type) => new() { ["type"] = type };
}

internal sealed record CaseDocument(long Id, long ProjectId, string Title, string? Description, string? ExternalRef, DateTimeOffset CreatedAt);

internal sealed record RunDocument(long Id, long ProjectId, string Name, DateTimeOffset CreatedAt);

internal sealed record IssueDocument(long Id, long ProjectId, string Key, string? Title, string? Status, string? Url);
