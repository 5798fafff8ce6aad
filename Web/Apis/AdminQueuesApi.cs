using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Queue;
using Web.Infrastructure;
using Web.Services;

namespace Web.Apis;

public sealed record CleanRequest(JobState State, [Range(0, 3650 * 24 * 3600)] long? OlderThanSeconds);

public sealed record CleanedDto(int Removed);

public sealed record QueuesDto(IReadOnlyList<QueueSummary> Queues, IReadOnlyList<RunningJobProgress> Running, TenantHold Hold);

/// <summary>
/// Admin &gt; Job Queues over the queue's tenant-scoped admin API: this tenant's jobs only. Another tenant's job id
/// is simply not found (404). Queue-wide operations that would touch other tenants do not exist here.
/// </summary>
internal static class AdminQueuesApi
{
    public static RouteGroupBuilder MapAdminQueuesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/admin/queues").WithTags("Job queues").RequireAuthorization(AuthorizationPolicies.Admin);
        api.MapGet("/", Overview);
        api.MapGet("/{queue}/jobs", ListJobs);
        api.MapGet("/{queue}/jobs/{jobId}", GetJob);
        api.MapPost("/{queue}/jobs/{jobId}/retry", Retry);
        api.MapPost("/{queue}/jobs/{jobId}/promote", Promote);
        api.MapDelete("/{queue}/jobs/{jobId}", Remove);
        api.MapPost("/{queue}/clean", Clean);
        return api;
    }

    internal static async Task<Ok<QueuesDto>> Overview(JobQueueDashboard dashboard, CancellationToken cancellationToken) =>
        TypedResults.Ok(new QueuesDto(
            await dashboard.SummariesAsync(cancellationToken), await dashboard.RunningProgressAsync(cancellationToken), await dashboard.HoldAsync(cancellationToken)));

    /// <summary>A page of the tenant's jobs in one state, with the tenant's count of jobs in that state as the total.</summary>
    public static async Task<Results<Ok<Paged<JobDetails>>, NotFound>> ListJobs(string queue, string? state, int? page, int? pageSize, JobQueueDashboard dashboard, CancellationToken cancellationToken)
    {
        if (!JobQueueDashboard.IsKnownQueue(queue))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await dashboard.JobsAsync(queue, ParseState(state), PageRequest.ForApi(page, pageSize), cancellationToken));
    }

    // ?state=completed as well as ?state=Completed: the route binder alone matches enum names case-sensitively.
    private static JobState ParseState(string? state) =>
        state is null ? JobState.Waiting
        : !state.All(char.IsAsciiDigit) && Enum.TryParse<JobState>(state, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) ? parsed
        : throw new InvalidRequestException("state", $"Unknown state '{state}': use waiting, active, delayed, completed or failed.");

    public static async Task<Results<Ok<JobDetails>, NotFound>> GetJob(string queue, string jobId, IJobQueueAdmin admin, CancellationToken cancellationToken) =>
        JobQueueDashboard.IsKnownQueue(queue) && await admin.GetJobAsync(queue, jobId, cancellationToken) is { } job
            ? TypedResults.Ok(job)
            : TypedResults.NotFound();

    public static async Task<Results<NoContent, NotFound>> Retry(string queue, string jobId, IJobQueueAdmin admin, CancellationToken cancellationToken) =>
        JobQueueDashboard.IsKnownQueue(queue) && await admin.RetryAsync(queue, jobId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    public static async Task<Results<NoContent, NotFound>> Promote(string queue, string jobId, IJobQueueAdmin admin, CancellationToken cancellationToken) =>
        JobQueueDashboard.IsKnownQueue(queue) && await admin.PromoteAsync(queue, jobId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    public static async Task<Results<NoContent, NotFound>> Remove(string queue, string jobId, IJobQueueAdmin admin, CancellationToken cancellationToken) =>
        JobQueueDashboard.IsKnownQueue(queue) && await admin.RemoveAsync(queue, jobId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    public static async Task<Results<Ok<CleanedDto>, NotFound>> Clean(string queue, CleanRequest request, IJobQueueAdmin admin, CancellationToken cancellationToken)
    {
        if (!JobQueueDashboard.IsKnownQueue(queue))
        {
            return TypedResults.NotFound();
        }
        if (request.State is not (JobState.Completed or JobState.Failed))
        {
            throw new InvalidRequestException("state", "Only completed or failed jobs can be cleaned.");
        }
        var removed = await admin.CleanAsync(queue, request.State, TimeSpan.FromSeconds(request.OlderThanSeconds ?? 0), 10_000, cancellationToken);
        return TypedResults.Ok(new CleanedDto(removed));
    }
}
