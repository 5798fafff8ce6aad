using Domain.Infrastructure;
using Domain.Jobs;
using Microsoft.EntityFrameworkCore;
using Queue;

namespace Web.Services;

/// <summary>Asks the reindex worker to rebuild search documents: everything, one entity type, or one project.</summary>
internal sealed class ReindexService(TenantDbContext db, JobPublisher jobs)
{
    public async Task<EnqueueResult> RequestAsync(ReindexScope scope, string? entityType, long? projectId, int? batchSize, CancellationToken cancellationToken)
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
        return await jobs.EnqueueAsync(Jobs.Reindex, payload with { BatchSize = batchSize ?? ReindexPayload.DefaultBatchSize }, cancellationToken);
    }
}
