using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Queue;
using Web.Infrastructure;
using Web.Services;

namespace Web.Pages.Admin.Queues;

/// <summary>One queue's jobs in one state, a page at a time, with the actions an operator may take on them.</summary>
internal sealed class JobsModel(IJobQueueAdmin admin, JobQueueDashboard dashboard) : PageModel
{
    public const int PageSize = 25;

    [BindProperty(SupportsGet = true)]
    public string Queue { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public JobState State { get; set; }

    [BindProperty(SupportsGet = true, Name = "p")]
    public int PageNumber { get; set; } = 1;

    public Paged<JobDetails> Jobs { get; private set; } = null!;

    public CleanInput Clean { get; set; } = new();

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        if (!JobQueueDashboard.IsKnownQueue(Queue) || !ModelState.IsValid)
        {
            return NotFound();
        }
        await LoadAsync(cancellationToken);
        return Page();
    }

    public Task<IActionResult> OnPostRetryAsync(string jobId, CancellationToken cancellationToken) =>
        ActAsync(jobId, "retried", () => admin.RetryAsync(Queue, jobId, cancellationToken));

    public Task<IActionResult> OnPostPromoteAsync(string jobId, CancellationToken cancellationToken) =>
        ActAsync(jobId, "promoted", () => admin.PromoteAsync(Queue, jobId, cancellationToken));

    public Task<IActionResult> OnPostRemoveAsync(string jobId, CancellationToken cancellationToken) =>
        ActAsync(jobId, "removed", () => admin.RemoveAsync(Queue, jobId, cancellationToken));

    public async Task<IActionResult> OnPostCleanAsync([Bind(Prefix = nameof(Clean))] CleanInput input, CancellationToken cancellationToken)
    {
        if (!JobQueueDashboard.IsKnownQueue(Queue))
        {
            return NotFound();
        }
        Clean = input;
        if (input.State is not (JobState.Completed or JobState.Failed))
        {
            ModelState.AddModelError("Clean.State", "Only completed or failed jobs can be cleaned.");
        }
        if (!ModelState.IsValid)
        {
            await LoadAsync(cancellationToken);
            return Page();
        }
        var removed = await admin.CleanAsync(Queue, input.State, TimeSpan.FromMinutes(input.OlderThanMinutes), 10_000, cancellationToken);
        TempData["Message"] = $"{removed} {input.State.ToString().ToLowerInvariant()} job(s) removed.";
        return Redirect($"/admin/queues/{Queue}/{State}");
    }

    private async Task<IActionResult> ActAsync(string jobId, string done, Func<Task<bool>> action)
    {
        // Unknown queue or a job id this tenant does not have: both are simply not found.
        if (!JobQueueDashboard.IsKnownQueue(Queue) || string.IsNullOrEmpty(jobId) || !await action())
        {
            return NotFound();
        }
        TempData["Message"] = $"Job {jobId} {done}.";
        return Redirect($"/admin/queues/{Queue}/{State}?p={Math.Max(1, PageNumber)}");
    }

    private async Task LoadAsync(CancellationToken cancellationToken) =>
        Jobs = await dashboard.JobsAsync(Queue, State, PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
}

public sealed class CleanInput
{
    public JobState State { get; set; }

    [Range(0, 60 * 24 * 3650)]
    public int OlderThanMinutes { get; set; }
}
