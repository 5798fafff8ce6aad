using Queue.Storage;

namespace Queue.Backlog;

/// <summary>Reads the per-queue waiting totals that <c>JobQueueServer</c>'s depth report writes (<see cref="QueueStorage.PublishWaitingAsync"/>).</summary>
internal sealed class JobQueueBacklog(QueueStorage storage) : IJobQueueBacklog
{
    public async Task<IReadOnlyDictionary<string, long>> GetWaitingAsync(IEnumerable<string> queues, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        var names = queues.Distinct(StringComparer.Ordinal).ToList();
        var values = await storage.WaitingTotalsAsync(names);
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            if (values[i] is { } waiting)
            {
                result[names[i]] = waiting;
            }
        }
        return result;
    }
}
