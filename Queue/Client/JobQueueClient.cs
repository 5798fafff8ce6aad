using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Options;
using Queue.Security;
using Queue.Storage;

namespace Queue.Client;

internal sealed class JobQueueClient(QueueStorage storage, JobAuthority authority, IOptions<JobQueueOptions> options, TimeProvider time) : IJobQueueClient
{
    public async Task<EnqueueResult> EnqueueAsync(string queue, string name, string payloadJson, EnqueueOptions? options = null, CancellationToken cancellationToken = default) =>
        (await EnqueueBulkAsync(queue, [new JobRequest(name, payloadJson, options)], cancellationToken))[0];

    public async Task<IReadOnlyList<EnqueueResult>> EnqueueBulkAsync(string queue, IReadOnlyList<JobRequest> jobs, CancellationToken cancellationToken = default)
    {
        JobNames.ValidateQueue(queue);
        ArgumentNullException.ThrowIfNull(jobs);
        cancellationToken.ThrowIfCancellationRequested();
        if (jobs.Count == 0)
        {
            return [];
        }
        var slot = authority.CurrentSlot($"enqueue job '{jobs[0].Name}' on queue '{queue}'");
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        using var activity = QueueTelemetry.StartEnqueue(queue, slot, jobs.Count);
        // The consumer span becomes a child of this producer span (or of the caller's span when nobody listens to ours).
        var traceParent = Activity.Current?.Id ?? "";
        var records = new JobRecord[jobs.Count];
        for (var i = 0; i < jobs.Count; i++)
        {
            records[i] = ToRecord(queue, slot, jobs[i], traceParent, now);
        }
        if (records.Length == 1)
        {
            activity?.SetTag("messaging.message.id", records[0].Id);
        }
        var added = await storage.EnqueueAsync(queue, records, now);
        var count = added.Count(a => a);
        QueueTelemetry.Enqueued.Add(count, QueueTelemetry.Tags(queue, slot));
        var results = new EnqueueResult[records.Length];
        for (var i = 0; i < records.Length; i++)
        {
            results[i] = new EnqueueResult(records[i].Id, added[i]);
        }
        return results;
    }

    private JobRecord ToRecord(string queue, string slot, JobRequest job, string traceParent, long now)
    {
        ArgumentNullException.ThrowIfNull(job);
        JobNames.ValidateName(job.Name, "job name", nameof(job));
        ArgumentNullException.ThrowIfNull(job.PayloadJson);
        var o = job.Options;
        var id = o?.JobId ?? Guid.CreateVersion7().ToString("N");
        JobNames.ValidateName(id, "job id", nameof(job));
        var size = Encoding.UTF8.GetByteCount(job.PayloadJson);
        var limit = options.Value.MaxPayloadBytes;
        if (size > limit)
        {
            throw new ArgumentException(
                $"The payload of job '{job.Name}' ({id}) on queue '{queue}' is {size} bytes; the limit is {limit} bytes (JobQueueOptions.MaxPayloadBytes). " +
                "Store large data elsewhere and enqueue a reference to it.", nameof(job));
        }
        if (o?.Priority is < 0 or > 1000)
        {
            throw new ArgumentException($"Priority {o.Priority} of job '{job.Name}' is outside 0..1000.", nameof(job));
        }
        if (o?.MaxAttempts is < 1)
        {
            throw new ArgumentException($"MaxAttempts of job '{job.Name}' must be at least 1.", nameof(job));
        }
        if (o?.TraceParent is { } parent && !ActivityContext.TryParse(parent, null, out _))
        {
            throw new ArgumentException($"TraceParent '{parent}' of job '{job.Name}' is not a W3C traceparent (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>).", nameof(job));
        }
        var due = o?.Delay is { } delay && delay > TimeSpan.Zero ? now + (long)delay.TotalMilliseconds : 0;
        // Sealed, the payload is stored only encrypted for this job, and AES-GCM's tag (over the payload and the job's
        // identity, under a key derived from the same tenant secret) is its signature: no HMAC besides. Not sealed, it is signed.
        var sealedPayload = authority.Seal(slot, queue, id, job.Name, job.PayloadJson);
        var signature = sealedPayload is null ? authority.Sign(slot, queue, id, job.Name, job.PayloadJson) : "";
        var data = new JobData(job.Name, sealedPayload is null ? job.PayloadJson : "", signature, o?.TraceParent ?? traceParent, o?.MaxAttempts ?? 0, now)
        {
            Sealed = sealedPayload,
        };
        return new JobRecord(slot, id, data, o?.Priority ?? 0, due);
    }
}
