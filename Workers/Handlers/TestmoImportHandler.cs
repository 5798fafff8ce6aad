using Queue;

namespace Workers.Handlers;

/// <summary><c>import</c>: see issue 5 (streaming Testmo import with binary COPY).</summary>
public sealed class TestmoImportHandler : IJobHandler
{
    public Task HandleAsync(JobContext context, CancellationToken cancellationToken) =>
        throw new PermanentJobFailureException("Testmo imports are not available in this build of the workers yet.");
}
