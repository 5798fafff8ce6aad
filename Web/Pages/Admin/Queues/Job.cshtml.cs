using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Queue;
using Web.Services;

namespace Web.Pages.Admin.Queues;

internal sealed class JobModel(IJobQueueAdmin admin) : PageModel
{
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
