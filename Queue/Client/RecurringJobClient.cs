using System.Text.Json;
using Queue.Security;
using Queue.Storage;

namespace Queue.Client;

/// <summary>A recurring definition as stored; its JSON must be stable so an identical upsert is recognised.</summary>
internal sealed record RecurringDefinition(string Cron, string? TimeZone, string JobName, string Payload)
{
    public string ToJson() => JsonSerializer.Serialize(this, JsonSerializerOptions.Web);

    public static RecurringDefinition FromJson(string json) =>
        JsonSerializer.Deserialize<RecurringDefinition>(json, JsonSerializerOptions.Web)
        ?? throw new FormatException("Empty recurring job definition.");
}

internal sealed class RecurringJobClient(QueueStorage storage, JobAuthority authority, TimeProvider time) : IRecurringJobClient
{
    public async Task<bool> UpsertAsync(string queue, string recurringId, string cron, string jobName, string payloadJson = "{}", string? timeZone = null, CancellationToken cancellationToken = default)
    {
        JobNames.ValidateQueue(queue);
        JobNames.ValidateName(recurringId, "recurring job id", nameof(recurringId));
        JobNames.ValidateName(jobName, "job name", nameof(jobName));
        ArgumentNullException.ThrowIfNull(payloadJson);
        var schedule = RecurringSchedule.Parse(cron, timeZone);
        var slot = authority.CurrentSlot($"schedule recurring job '{recurringId}' on queue '{queue}'");
        var next = schedule.NextAfter(time.GetUtcNow()) ?? throw new ArgumentException($"Cron '{cron}' has no future occurrence.", nameof(cron));
        var definition = new RecurringDefinition(cron, timeZone, jobName, payloadJson);
        return await storage.UpsertRecurringAsync(queue, slot, recurringId, definition.ToJson(), next.ToUnixTimeMilliseconds());
    }

    public Task<bool> RemoveAsync(string queue, string recurringId, CancellationToken cancellationToken = default)
    {
        JobNames.ValidateQueue(queue);
        return storage.RemoveRecurringAsync(queue, authority.CurrentSlot($"remove recurring job '{recurringId}'"), recurringId);
    }

    public async Task<IReadOnlyList<RecurringJob>> ListAsync(string queue, CancellationToken cancellationToken = default)
    {
        JobNames.ValidateQueue(queue);
        var list = await storage.RecurringAsync(queue, authority.CurrentSlot($"list recurring jobs of queue '{queue}'"));
        return [.. list.Select(r =>
        {
            var d = RecurringDefinition.FromJson(r.Definition);
            return new RecurringJob(r.Id, queue, d.Cron, d.TimeZone, d.JobName, d.Payload,
                r.NextMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);
        })];
    }
}
