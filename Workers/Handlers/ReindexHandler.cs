using Queue;

namespace Workers.Handlers;

/// <summary><c>reindex</c>: see issue 5 (Elasticsearch _bulk, alias swap).</summary>
public sealed class ReindexHandler : IJobHandler
{
    public Task HandleAsync(JobContext context, CancellationToken cancellationToken) =>
        throw new PermanentJobFailureException("Reindexing is not available in this build of the workers yet.");
}
