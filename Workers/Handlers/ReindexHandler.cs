using System.Globalization;
using System.Text.Json.Serialization;
using Domain.Jobs;
using Domain.Search;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Bulk;
using Elastic.Clients.Elasticsearch.IndexManagement;
using Elastic.Clients.Elasticsearch.Mapping;
using Elastic.Clients.Elasticsearch.QueryDsl;
using Npgsql;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>
/// <c>reindex</c>: copies the tenant's cases, runs and issues into its Elasticsearch indices through the official
/// client. Searches go through the alias <c>&lt;elasticsearchIndex&gt;-&lt;entity&gt;</c> (entity = cases|runs|issues).
/// <list type="bullet">
/// <item>A full reindex (scope all, or one entity type) builds a new concrete index
/// <c>&lt;elasticsearchIndex&gt;-&lt;utc timestamp&gt;-&lt;entity&gt;</c> with explicit mappings, bulk-loads and refreshes it,
/// then moves the alias to it in one atomic <c>_aliases</c> call and deletes the indices the alias left. Search
/// never sees a half-built index; a failed load deletes the new index and leaves the alias where it was.</item>
/// <item>A project reindex upserts that project's documents through the alias, each stamped with this run's
/// <c>indexRun</c>, refreshes, then deletes by query the project's documents that carry another run: the rows
/// deleted since the last reindex.</item>
/// </list>
/// Rows are read in keyset-paged batches (<c>WHERE id &gt; @last ORDER BY id LIMIT @batch</c>), one <c>_bulk</c>
/// request per batch, so memory follows the batch size and never the table size. A document Elasticsearch rejects
/// fails the job permanently with the first rejected item's reason; items refused with 429 (back-pressure) are sent
/// again a few times, then the job waits and runs again without using an attempt.
/// A tenant without <c>elasticsearchNode</c> is served by PostgreSQL full-text search, which is always current:
/// its job completes at once and touches nothing.
/// </summary>
/// <remarks>
/// The entity stays the last dash-separated part of the concrete index name because the web app's search reads
/// the entity type of a hit from the end of its <c>_index</c>.
/// </remarks>
public sealed class ReindexHandler(JobDatabase database, TenantSearch search, TimeProvider time) : IJobHandler
{
    /// <summary>How often a batch's 429 items are sent again within one attempt.</summary>
    internal const int BackPressureRetries = 3;

    /// <summary>What a job of a tenant without Elasticsearch reports.</summary>
    public const string NothingToReindex = "PostgreSQL full-text search serves this tenant and is always current; there is nothing to reindex.";

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

        if (search.Connect() is not var (client, target))
        {
            await context.ReportProgressAsync(new { engine = SearchEngines.PostgreSql, note = NothingToReindex });
            return;
        }
        // Checks the tenant marker before anything of this database is read.
        await database.ContextAsync(cancellationToken);
        var run = new Run(context, database.DataSource, client, target, payload.BatchSize,
            payload.Scope == ReindexScope.Project ? payload.ProjectId : null, Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var entity in entities)
            {
                if (run.ProjectId is null)
                {
                    await RebuildAsync(run, entity, cancellationToken);
                }
                else
                {
                    await ReindexProjectAsync(run, entity, cancellationToken);
                }
            }
        }
        catch (RejectedDocumentException e)
        {
            throw new PermanentJobFailureException(e.Message, e);
        }
    }

    private async Task RebuildAsync(Run run, SearchEntity entity, CancellationToken cancellationToken)
    {
        var alias = run.Target.Alias(entity.Type);
        var index = NewIndexName(run.Target, entity);
        await run.CreateIndexAsync(index, entity, cancellationToken);
        IReadOnlyList<string> previous;
        try
        {
            await run.LoadAsync(entity, index, cancellationToken);
            await run.RefreshAsync(index, cancellationToken);
            previous = await run.AliasTargetsAsync(alias, cancellationToken);
            var actions = previous.Select(old => new IndexUpdateAliasesAction { Remove = new RemoveAction { Index = old, Alias = alias } }).ToList();
            if (previous.Count == 0 && await run.ExistsAsync(alias, cancellationToken))
            {
                // An older setup wrote to a concrete index named like the alias: drop it in the same atomic step.
                actions.Add(new IndexUpdateAliasesAction { RemoveIndex = new RemoveIndexAction { Index = alias } });
            }
            actions.Add(new IndexUpdateAliasesAction { Add = new AddAction { Index = index, Alias = alias } });
            await run.UpdateAliasesAsync(actions, cancellationToken);
        }
        catch
        {
            // The alias still points at the previous index; the half-built one is of no use to anyone.
            await run.DeleteIndexAsync(index, CancellationToken.None);
            throw;
        }
        foreach (var old in previous)
        {
            await run.DeleteIndexAsync(old, cancellationToken);
        }
    }

    private async Task ReindexProjectAsync(Run run, SearchEntity entity, CancellationToken cancellationToken)
    {
        var alias = run.Target.Alias(entity.Type);
        if (!await run.ExistsAsync(alias, cancellationToken))
        {
            // The first reindex of a tenant may be a project's: it creates the index and the alias.
            var index = NewIndexName(run.Target, entity);
            await run.CreateIndexAsync(index, entity, cancellationToken);
            await run.UpdateAliasesAsync([new IndexUpdateAliasesAction { Add = new AddAction { Index = index, Alias = alias } }], cancellationToken);
        }
        else
        {
            // Indices built before documents carried indexRun must map it before the deletion can query it.
            await run.MapIndexRunAsync(alias, cancellationToken);
        }
        await run.LoadAsync(entity, alias, cancellationToken);
        await run.RefreshAsync(alias, cancellationToken);
        await run.DeleteStaleAsync(alias, cancellationToken);
    }

    private string NewIndexName(ElasticsearchTarget target, SearchEntity entity) =>
        $"{target.IndexPrefix}-{time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd't'HHmmssfff", CultureInfo.InvariantCulture)}-{entity.Type}";

    private sealed class Run(JobContext context, NpgsqlDataSource dataSource, ElasticsearchClient client, ElasticsearchTarget target, int batchSize, long? projectId, string indexRun)
    {
        public ElasticsearchTarget Target => target;

        public long? ProjectId => projectId;

        public async Task CreateIndexAsync(string index, SearchEntity entity, CancellationToken cancellationToken)
        {
            var response = await client.Indices.CreateAsync(new CreateIndexRequest(index) { Mappings = entity.Mappings() }, cancellationToken);
            Check(response, $"create index {index}");
        }

        public async Task DeleteIndexAsync(string index, CancellationToken cancellationToken)
        {
            var response = await client.Indices.DeleteAsync(new DeleteIndexRequest(index), cancellationToken);
            // An index that is already gone is not an error.
            if (response.ApiCallDetails?.HttpStatusCode != 404)
            {
                Check(response, $"delete index {index}");
            }
        }

        public async Task RefreshAsync(string index, CancellationToken cancellationToken) =>
            Check(await client.Indices.RefreshAsync(new RefreshRequest(index), cancellationToken), $"refresh {index}");

        public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken)
        {
            var response = await client.Indices.ExistsAsync(new Elastic.Clients.Elasticsearch.IndexManagement.ExistsRequest(name), cancellationToken);
            if (response.ApiCallDetails?.HttpStatusCode == 404)
            {
                return false;
            }
            Check(response, $"check {name}");
            return true;
        }

        /// <summary>The concrete indices the alias points to (none when it does not exist).</summary>
        public async Task<IReadOnlyList<string>> AliasTargetsAsync(string alias, CancellationToken cancellationToken)
        {
            var response = await client.Indices.GetAliasAsync(new GetAliasRequest((Names)alias), cancellationToken);
            if (response.ApiCallDetails?.HttpStatusCode == 404)
            {
                return [];
            }
            Check(response, $"read alias {alias}");
            return [.. (response.Aliases ?? new Dictionary<string, IndexAliases>()).Keys.Order(StringComparer.Ordinal)];
        }

        /// <summary><c>POST /_aliases</c>: one atomic cluster-state update, so searches see the old indices or the new one, never neither.</summary>
        public async Task UpdateAliasesAsync(ICollection<IndexUpdateAliasesAction> actions, CancellationToken cancellationToken) =>
            Check(await client.Indices.UpdateAliasesAsync(new UpdateAliasesRequest { Actions = actions }, cancellationToken), "update aliases");

        public async Task MapIndexRunAsync(string alias, CancellationToken cancellationToken)
        {
            var request = new PutMappingRequest(alias) { Properties = new Properties { { SearchEntity.IndexRunField, new KeywordProperty() } } };
            Check(await client.Indices.PutMappingAsync(request, cancellationToken), $"map {SearchEntity.IndexRunField} in {alias}");
        }

        /// <summary>Deletes the project's documents that this run did not write: their rows are gone.</summary>
        public async Task DeleteStaleAsync(string alias, CancellationToken cancellationToken)
        {
            var request = new DeleteByQueryRequest(alias)
            {
                Query = new BoolQuery
                {
                    Filter = [new TermQuery(new Field(SearchEntity.ProjectIdField), projectId!.Value)],
                    MustNot = [new TermQuery(new Field(SearchEntity.IndexRunField), indexRun)],
                },
                Conflicts = Conflicts.Proceed,
                Refresh = true,
            };
            var response = await client.DeleteByQueryAsync(request, cancellationToken);
            Check(response, $"delete the removed documents of project {projectId} from {alias}");
            if (response.Failures is { Count: > 0 } failures)
            {
                var first = failures.First();
                throw new ElasticsearchRequestException(
                    $"Deleting the removed documents of project {projectId} from {alias} failed for {failures.Count} document(s); first: {first.Id}: {first.Cause.Type}: {first.Cause.Reason}");
            }
        }

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
            var batch = new List<SearchDocument>(batchSize);
            while (true)
            {
                batch.Clear();
                lastParameter.Value = last;
                await using (var reader = await page.ExecuteReaderAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        batch.Add(entity.Read(reader, indexRun));
                    }
                }
                if (batch.Count == 0)
                {
                    break;
                }
                await BulkIndexAsync(target, batch, cancellationToken);
                indexed += batch.Count;
                last = batch[^1].Id;
                await context.ReportProgressAsync(new ReindexProgress(entity.Type, indexed, Math.Max(total, indexed), Percent(indexed, total)));
                if (batch.Count < batchSize)
                {
                    break;
                }
            }
        }

        /// <summary>
        /// One <c>_bulk</c> request; a 200 answer can still carry failed items. Any item rejected for itself fails the
        /// job with the first such item's reason. Items refused with 429 are sent again, alone, a few times.
        /// </summary>
        private async Task BulkIndexAsync(string index, IReadOnlyList<SearchDocument> documents, CancellationToken cancellationToken)
        {
            IReadOnlyList<SearchDocument> pending = documents;
            for (var attempt = 0; ; attempt++)
            {
                var operations = new BulkOperationsCollection();
                foreach (var document in pending)
                {
                    operations.Add(new BulkIndexOperation<SearchDocument>(document) { Index = index, Id = document.Id.ToString(CultureInfo.InvariantCulture) });
                }
                var response = await client.BulkAsync(new BulkRequest { Operations = operations }, cancellationToken);
                if (response.Items is not { Count: > 0 } items || items.Count != pending.Count)
                {
                    // No per-item answer: the request as a whole failed (or the answer is not one we can trust).
                    Check(response, $"bulk index into {index}");
                    throw new ElasticsearchRequestException($"Elasticsearch answered a bulk request into {index} of {pending.Count} documents with {response.Items?.Count ?? 0} items.");
                }
                var results = items.ToList();
                var rejected = results.Where(i => i.Error is not null && i.Status != 429).ToList();
                if (rejected.Count > 0)
                {
                    var first = rejected[0];
                    throw new RejectedDocumentException(
                        $"Elasticsearch rejected {rejected.Count} of {pending.Count} documents bulk indexed into {index}; the first, document {first.Id}: " +
                        $"{first.Status} {first.Error!.Type}: {first.Error.Reason}");
                }
                var backPressure = pending.Where((_, i) => results[i].Status == 429).ToList();
                if (backPressure.Count == 0)
                {
                    return;
                }
                if (attempt == BackPressureRetries)
                {
                    throw new JobRetryAfterException(TimeSpan.FromSeconds(30),
                        $"Elasticsearch kept refusing {backPressure.Count} of {pending.Count} documents with 429 (too many requests); the job will run again.");
                }
                pending = backPressure;
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), cancellationToken);
            }
        }

        private void Check(Elastic.Transport.Products.Elasticsearch.ElasticsearchResponse response, string what) =>
            ElasticsearchRequestException.ThrowUnlessValid(response, what, target);

        private void AddProject(NpgsqlCommand command)
        {
            if (projectId is { } id)
            {
                command.Parameters.AddWithValue("project", id);
            }
        }

        private static int Percent(long done, long total) => total == 0 ? 100 : (int)Math.Min(100, done * 100 / total);
    }

    /// <summary>A document the index refuses for itself (a mapping error): sending it again cannot help.</summary>
    private sealed class RejectedDocumentException(string message) : Exception(message);
}

/// <summary>What a reindex job reports as it goes, per entity type.</summary>
public sealed record ReindexProgress(string Entity, long Indexed, long Total, int Percent);

/// <summary>
/// One indexed document, of any entity type: each type fills its own fields (a case has <c>title</c> and
/// <c>description</c>, a run <c>name</c>, an issue <c>key</c>, <c>title</c>, <c>status</c> and <c>url</c>); null fields
/// are left out of the source. <c>indexRun</c> names the reindex that wrote it.
/// </summary>
internal sealed record SearchDocument(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("projectId")] long ProjectId,
    [property: JsonPropertyName("indexRun")] string IndexRun)
{
    [JsonPropertyName("title"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Title { get; init; }

    [JsonPropertyName("description"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    [JsonPropertyName("externalRef"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExternalRef { get; init; }

    [JsonPropertyName("name"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    [JsonPropertyName("key"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Key { get; init; }

    [JsonPropertyName("status"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Status { get; init; }

    [JsonPropertyName("url"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Url { get; init; }

    [JsonPropertyName("createdAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>One searchable entity type: where its rows come from, its documents and its index mappings.</summary>
internal sealed class SearchEntity
{
    public const string ProjectIdField = "projectId";
    public const string IndexRunField = "indexRun";

    public static readonly IReadOnlyList<SearchEntity> All =
    [
        new(SearchEntityTypes.Cases,
            "SELECT c.id, c.project_id, c.title, c.description, c.external_ref, c.created_at FROM test_cases c",
            "c", "c.project_id",
            (r, run) => new SearchDocument(r.GetInt64(0), r.GetInt64(1), run)
            {
                Title = r.GetString(2), Description = Text(r, 3), ExternalRef = Text(r, 4), CreatedAt = r.GetFieldValue<DateTimeOffset>(5),
            },
            () => new Properties
            {
                { "title", new TextProperty() }, { "description", new TextProperty() },
                { "externalRef", new KeywordProperty() }, { "createdAt", new DateProperty() },
            }),
        new(SearchEntityTypes.Runs,
            "SELECT r.id, r.project_id, r.name, r.created_at FROM test_runs r",
            "r", "r.project_id",
            (r, run) => new SearchDocument(r.GetInt64(0), r.GetInt64(1), run) { Name = r.GetString(2), CreatedAt = r.GetFieldValue<DateTimeOffset>(3) },
            () => new Properties { { "name", new TextProperty() }, { "createdAt", new DateProperty() } }),
        new(SearchEntityTypes.Issues,
            "SELECT i.id, t.project_id, i.key, i.title, i.status, i.url FROM external_issues i JOIN tracker_integrations t ON t.id = i.integration_id",
            "i", "t.project_id",
            (r, run) => new SearchDocument(r.GetInt64(0), r.GetInt64(1), run) { Key = r.GetString(2), Title = Text(r, 3), Status = Text(r, 4), Url = Text(r, 5) },
            () => new Properties
            {
                { "key", new TextProperty { Fields = new Properties { { "raw", new KeywordProperty() } } } },
                { "title", new TextProperty() }, { "status", new TextProperty() }, { "url", new KeywordProperty() },
            }),
    ];

    private readonly string _select;
    private readonly string _alias;
    private readonly string _projectColumn;
    private readonly Func<NpgsqlDataReader, string, SearchDocument> _read;
    private readonly Func<Properties> _properties;

    private SearchEntity(string type, string select, string alias, string projectColumn, Func<NpgsqlDataReader, string, SearchDocument> read, Func<Properties> properties)
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

    public SearchDocument Read(NpgsqlDataReader reader, string indexRun) => _read(reader, indexRun);

    /// <summary>Explicit mappings, so field types never depend on the first document; unmapped fields are not indexed.</summary>
    public TypeMapping Mappings()
    {
        var properties = _properties();
        properties.Add("id", new LongNumberProperty());
        properties.Add(ProjectIdField, new LongNumberProperty());
        properties.Add(IndexRunField, new KeywordProperty());
        return new TypeMapping { Dynamic = DynamicMapping.False, Properties = properties };
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
