namespace Queue;

/// <summary>
/// Jobs waiting per queue, in total over every tenant: the figure an autoscaler (KEDA) scales the workers on. Its
/// cardinality is the number of queues, whatever the number of tenants. Cheap: one read of a few small keys.
/// </summary>
public interface IJobQueueBacklog
{
    /// <summary>
    /// The waiting total of each of <paramref name="queues"/> as the queue's depth reporter (one worker per queue)
    /// last published it, at most three heartbeats ago. A queue without a fresh figure (no worker of it reports, or
    /// none has reported since it started) is missing from the result rather than reported as zero.
    /// </summary>
    Task<IReadOnlyDictionary<string, long>> GetWaitingAsync(IEnumerable<string> queues, CancellationToken cancellationToken = default);
}
