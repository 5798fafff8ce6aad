using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Queue;
using Web.Services;

namespace Web.Pages.Admin.Queues;

internal sealed class JobModel(IJobQueueAdmin admin, IConfiguration configuration) : PageModel
{
    /// <summary>
    /// The Aspire dashboard's page of the job's trace, when the dashboard's address is known (<c>DASHBOARD_URL</c>, which
    /// the AppHost passes in run mode) and the job recorded a W3C traceparent (<c>00-&lt;trace id&gt;-&lt;span id&gt;-&lt;flags&gt;</c>).
    /// </summary>
    public string? DashboardTraceUrl =>
        configuration["DASHBOARD_URL"] is { Length: > 0 } dashboard && Job.TraceParent?.Split('-') is [_, { Length: 32 } traceId, _, _]
            && traceId.All(char.IsAsciiHexDigit)
            ? $"{dashboard.TrimEnd('/')}/traces/detail/{traceId}"
            : null;

    [BindProperty(SupportsGet = true)]
    public string Queue { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public string JobId { get; set; } = "";

    public JobDetails Job { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        if (!JobQueueDashboard.IsKnownQueue(Queue) || await admin.GetJobAsync(Queue, JobId, cancellationToken) is not { } job)
        {
            return NotFound();
        }
        Job = job;
        return Page();
    }

    public Task<IActionResult> OnPostRetryAsync(CancellationToken cancellationToken) => ActAsync("retried", () => admin.RetryAsync(Queue, JobId, cancellationToken), stay: true);

    public Task<IActionResult> OnPostPromoteAsync(CancellationToken cancellationToken) => ActAsync("promoted", () => admin.PromoteAsync(Queue, JobId, cancellationToken), stay: true);

    public Task<IActionResult> OnPostRemoveAsync(CancellationToken cancellationToken) => ActAsync("removed", () => admin.RemoveAsync(Queue, JobId, cancellationToken), stay: false);

    private async Task<IActionResult> ActAsync(string done, Func<Task<bool>> action, bool stay)
    {
        if (!JobQueueDashboard.IsKnownQueue(Queue) || !await action())
        {
            return NotFound();
        }
        TempData["Message"] = $"Job {JobId} {done}.";
        return Redirect(stay ? $"/admin/queues/{Queue}/jobs/{Uri.EscapeDataString(JobId)}" : "/admin/queues");
    }
}
