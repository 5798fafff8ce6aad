using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Search;
using Microsoft.EntityFrameworkCore;
using Queue;

namespace Web.Services;

/// <summary>What a reindex request led to: a queued job, or nothing to do because PostgreSQL full-text search is always current.</summary>
public sealed record ReindexOutcome(string Engine, EnqueueResult? Job)
{
    /// <summary>What the API and the page say to a tenant whose search needs no reindex.</summary>
    public const string NotNeeded =
        "This tenant's search is PostgreSQL full-text search, kept current by the database on every change: there is nothing to reindex, and no job was queued.";
}

/// <summary>
/// Asks the reindex worker to rebuild the tenant's Elasticsearch documents: everything, one entity type, or one
/// project. A tenant without Elasticsearch gets no job (it could only do nothing): the request is validated and
/// answered with <see cref="ReindexOutcome.NotNeeded"/>.
/// </summary>
internal sealed class ReindexService(TenantDbContext db, JobPublisher jobs, SearchService search)
{
    public async Task<ReindexOutcome> RequestAsync(ReindexScope scope, string? entityType, long? projectId, int? batchSize, CancellationToken cancellationToken)
    {
        if (batchSize is < 1 or > ReindexPayload.MaxBatchSize)
        {
            throw new InvalidRequestException("batchSize", $"The batch size must be between 1 and {ReindexPayload.MaxBatchSize}.");
        }
        var payload = scope switch
        {
            ReindexScope.All => new ReindexPayload(ReindexScope.All),
            ReindexScope.EntityType when entityType is { } type && SearchEntityTypes.All.Contains(type) => new ReindexPayload(ReindexScope.EntityType, EntityType: type),
            ReindexScope.EntityType => throw new InvalidRequestException("entityType", $"An entity-type reindex needs entityType, one of: {string.Join(", ", SearchEntityTypes.All)}."),
            ReindexScope.Project when projectId is { } id => await db.Projects.AnyAsync(p => p.Id == id, cancellationToken)
                ? new ReindexPayload(ReindexScope.Project, ProjectId: id)
                : throw new InvalidRequestException("projectId", $"Project {id} does not exist."),
            ReindexScope.Project => throw new InvalidRequestException("projectId", "A project reindex needs projectId."),
            _ => throw new InvalidRequestException("scope", $"Unknown scope '{scope}'."),
        };
        var engine = search.Engine;
        if (engine != SearchEngines.Elasticsearch)
        {
            return new ReindexOutcome(engine, null);
        }
        return new ReindexOutcome(engine, await jobs.EnqueueAsync(Jobs.Reindex, payload with { BatchSize = batchSize ?? ReindexPayload.DefaultBatchSize }, cancellationToken));
    }
}
