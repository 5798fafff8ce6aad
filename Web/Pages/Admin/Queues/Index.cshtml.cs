using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Web.Services;

namespace Web.Pages.Admin.Queues;

internal sealed class QueuesModel(JobQueueDashboard dashboard) : PageModel
{
    public IReadOnlyList<QueueSummary> Queues { get; private set; } = [];

    public IReadOnlyList<RunningJobProgress> Running { get; private set; } = [];

    public Queue.TenantHold? Hold { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    /// <summary>
    /// The page's live part alone (hold, counts, running jobs), rendered by the same Razor as the page, for its script
    /// to swap in every second: job data is encoded by Razor wherever it is written, never assembled in the browser.
    /// </summary>
    public async Task<IActionResult> OnGetLiveAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken);
        return Partial("_Live", this);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        Queues = await dashboard.SummariesAsync(cancellationToken);
        Running = await dashboard.RunningProgressAsync(cancellationToken);
        Hold = await dashboard.HoldAsync(cancellationToken);
    }
}
