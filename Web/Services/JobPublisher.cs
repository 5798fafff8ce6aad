using System.Text.Json;
using Domain.Jobs;
using Queue;

namespace Web.Services;

/// <summary>Enqueues the product's jobs by contract. The queue client stamps and signs the current tenant.</summary>
internal sealed class JobPublisher(IJobQueueClient queue)
{
    public Task<EnqueueResult> EnqueueAsync<TPayload>(JobContract<TPayload> job, TPayload payload, CancellationToken cancellationToken, EnqueueOptions? options = null) =>
        queue.EnqueueAsync(job.Queue, job.Name, payload, options, cancellationToken);

    public async Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync<TPayload>(JobContract<TPayload> job, IEnumerable<TPayload> payloads, CancellationToken cancellationToken)
    {
        var requests = payloads.Select(p => new JobRequest(job.Name, JsonSerializer.Serialize(p, JsonSerializerOptions.Web))).ToList();
        return requests.Count == 0 ? [] : await queue.EnqueueBulkAsync(job.Queue, requests, cancellationToken);
    }
}

/// <summary>A request that cannot be served as asked; the API turns it into a 400 naming <see cref="Field"/>.</summary>
internal sealed class InvalidRequestException(string field, string problem) : Exception(problem)
{
    public string Field { get; } = field;
}

/// <summary>Something the request refers to does not exist for this tenant; the API turns it into a 404.</summary>
internal sealed class NotFoundException(string what) : Exception($"{what} was not found.");
