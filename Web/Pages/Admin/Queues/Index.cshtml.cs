using Microsoft.AspNetCore.Mvc.RazorPages;
using Web.Services;

namespace Web.Pages.Admin.Queues;

internal sealed class QueuesModel(JobQueueDashboard dashboard) : PageModel
{
    public IReadOnlyList<QueueSummary> Queues { get; private set; } = [];

    public IReadOnlyList<RunningJobProgress> Running { get; private set; } = [];

    public Queue.TenantHold? Hold { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Queues = await dashboard.SummariesAsync(cancellationToken);
        Running = await dashboard.RunningProgressAsync(cancellationToken);
        Hold = await dashboard.HoldAsync(cancellationToken);
    }
}
