using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Services;

namespace Web.Pages.Cases;

internal sealed class CaseDetailModel(TenantDbContext db, IssueService issues) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public long Id { get; set; }

    public TestCase Case { get; private set; } = null!;

    public string ProjectName { get; private set; } = "";

    public IReadOnlyList<ExternalIssue> Issues { get; private set; } = [];

    public IReadOnlyList<TrackerIntegration> Integrations { get; private set; } = [];

    public LinkIssueInput Link { get; set; } = new();

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) =>
        await LoadAsync(cancellationToken) ? Page() : NotFound();

    public async Task<IActionResult> OnPostLinkAsync([Bind(Prefix = nameof(Link))] LinkIssueInput input, CancellationToken cancellationToken)
    {
        Link = input;
        if (ModelState.IsValid)
        {
            try
            {
                var issue = await issues.LinkAsync(Id, input.IntegrationId, input.Key, cancellationToken);
                TempData["Message"] = $"{issue.Key} linked; its details arrive when the worker has read the tracker.";
                return Redirect($"/cases/{Id}");
            }
            catch (InvalidRequestException refusal)
            {
                ModelState.AddRefusal(nameof(Link), refusal);
            }
            catch (NotFoundException)
            {
                return NotFound();
            }
        }
        return await LoadAsync(cancellationToken) ? Page() : NotFound();
    }

    public async Task<IActionResult> OnPostRefreshAsync(long issueId, CancellationToken cancellationToken)
    {
        // Only an issue linked to this case can be refreshed from this case's page.
        if (!await db.TestCases.AnyAsync(c => c.Id == Id && c.Issues.Any(i => i.Id == issueId), cancellationToken))
        {
            return NotFound();
        }
        await issues.RefreshAsync(issueId, cancellationToken);
        TempData["Message"] = "Refresh requested.";
        return Redirect($"/cases/{Id}");
    }

    private async Task<bool> LoadAsync(CancellationToken cancellationToken)
    {
        var testCase = await db.TestCases.AsNoTracking().Include(c => c.Project).Include(c => c.Issues)
            .SingleOrDefaultAsync(c => c.Id == Id, cancellationToken);
        if (testCase is null)
        {
            return false;
        }
        Case = testCase;
        ProjectName = testCase.Project!.Name;
        Issues = [.. testCase.Issues.OrderBy(i => i.Key, StringComparer.Ordinal)];
        Integrations = await db.TrackerIntegrations.AsNoTracking().Where(i => i.ProjectId == testCase.ProjectId).OrderBy(i => i.Id).ToListAsync(cancellationToken);
        return true;
    }
}

public sealed class LinkIssueInput
{
    [Range(1, long.MaxValue, ErrorMessage = "Choose a tracker.")]
    public long IntegrationId { get; set; }

    [Required, StringLength(100, MinimumLength = 1)]
    public string Key { get; set; } = "";
}
