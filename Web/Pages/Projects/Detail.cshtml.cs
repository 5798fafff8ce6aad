using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Infrastructure;
using Web.Services;

namespace Web.Pages.Projects;

internal sealed class ProjectDetailModel(TenantDbContext db, TestRunService runs, IssueService issues, IAuthorizationService authorization, TimeProvider time) : PageModel
{
    public sealed record CaseLine(long Id, string Title, long? Forecast, int Issues);

    public sealed record RunLine(long Id, string Name, DateTimeOffset CreatedAt, long Results, long Failed);

    public sealed record IntegrationLine(long Id, string BaseUrl, string ProjectKey, string? Username, DateTimeOffset? LastSyncedAt);

    [BindProperty(SupportsGet = true)]
    public long Id { get; set; }

    public Project Project { get; private set; } = null!;

    public const int CasesPageSize = 50;
    public const int RunsPageSize = 20;

    public Paged<CaseLine> Cases { get; private set; } = null!;

    public Paged<RunLine> Runs { get; private set; } = null!;

    [BindProperty(SupportsGet = true, Name = "cases")]
    public int? CasesPage { get; set; }

    [BindProperty(SupportsGet = true, Name = "runs")]
    public int? RunsPage { get; set; }

    public IReadOnlyList<IntegrationLine> Integrations { get; private set; } = [];

    public NewCaseInput NewCase { get; set; } = new();

    public NewRunInput NewRun { get; set; } = new();

    public NewIntegrationInput NewIntegration { get; set; } = new();

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) =>
        await LoadAsync(cancellationToken) ? Page() : NotFound();

    public async Task<IActionResult> OnPostCreateCaseAsync([Bind(Prefix = nameof(NewCase))] NewCaseInput input, CancellationToken cancellationToken)
    {
        NewCase = input;
        if (!ModelState.IsValid)
        {
            return await LoadAsync(cancellationToken) ? Page() : NotFound();
        }
        if (!await db.Projects.AnyAsync(p => p.Id == Id, cancellationToken))
        {
            return NotFound();
        }
        var testCase = new TestCase { ProjectId = Id, Title = input.Title.Trim(), Description = string.IsNullOrWhiteSpace(input.Description) ? null : input.Description.Trim(), CreatedAt = time.GetUtcNow() };
        db.TestCases.Add(testCase);
        await db.SaveChangesAsync(cancellationToken);
        TempData["Message"] = $"Case '{testCase.Title}' added.";
        return Redirect($"/projects/{Id}");
    }

    public async Task<IActionResult> OnPostCreateRunAsync([Bind(Prefix = nameof(NewRun))] NewRunInput input, CancellationToken cancellationToken)
    {
        NewRun = input;
        if (!ModelState.IsValid)
        {
            return await LoadAsync(cancellationToken) ? Page() : NotFound();
        }
        try
        {
            var run = await runs.CreateRunAsync(Id, input.Name, User.UserId(), cancellationToken);
            return Redirect($"/runs/{run.Id}");
        }
        catch (NotFoundException)
        {
            return NotFound();
        }
    }

    public async Task<IActionResult> OnPostAddIntegrationAsync([Bind(Prefix = nameof(NewIntegration))] NewIntegrationInput input, CancellationToken cancellationToken)
    {
        if (!(await authorization.AuthorizeAsync(User, AuthorizationPolicies.Admin)).Succeeded)
        {
            return Forbid();
        }
        NewIntegration = input;
        if (ModelState.IsValid)
        {
            try
            {
                await issues.AddIntegrationAsync(Id, input.BaseUrl, input.ProjectKey, input.Username, input.ApiToken, cancellationToken);
                TempData["Message"] = "Integration added.";
                return Redirect($"/projects/{Id}");
            }
            catch (InvalidRequestException refusal)
            {
                ModelState.AddRefusal(nameof(NewIntegration), refusal);
            }
            catch (NotFoundException)
            {
                return NotFound();
            }
        }
        return await LoadAsync(cancellationToken) ? Page() : NotFound();
    }

    public async Task<IActionResult> OnPostSyncIssuesAsync(CancellationToken cancellationToken)
    {
        try
        {
            await issues.SyncProjectAsync(Id, cancellationToken);
            TempData["Message"] = "Issue sync requested; the issues update when the worker has read the tracker.";
        }
        catch (InvalidRequestException refusal)
        {
            TempData["Error"] = refusal.Message;
        }
        catch (NotFoundException)
        {
            return NotFound();
        }
        return Redirect($"/projects/{Id}");
    }

    private async Task<bool> LoadAsync(CancellationToken cancellationToken)
    {
        var project = await db.Projects.AsNoTracking().SingleOrDefaultAsync(p => p.Id == Id, cancellationToken);
        if (project is null)
        {
            return false;
        }
        Project = project;
        Cases = await db.TestCases.AsNoTracking().Where(c => c.ProjectId == Id).OrderBy(c => c.Id)
            .Select(c => new CaseLine(c.Id, c.Title, c.ForecastDurationMs, c.Issues.Count))
            .ToPagedAsync(PageRequest.ForPage(CasesPage, CasesPageSize), cancellationToken);
        var runs = await db.TestRuns.AsNoTracking().Where(r => r.ProjectId == Id).OrderByDescending(r => r.Id)
            .ToPagedAsync(PageRequest.ForPage(RunsPage, RunsPageSize), cancellationToken);
        var totals = await Apis.ProjectsApi.TotalsAsync(db, [.. runs.Items.Select(r => r.Id)], cancellationToken);
        Runs = runs.Select(r => totals.GetValueOrDefault(r.Id) is { } t
            ? new RunLine(r.Id, r.Name, r.CreatedAt, t.Results, t.ByStatus.GetValueOrDefault(TestResultStatus.Failed))
            : new RunLine(r.Id, r.Name, r.CreatedAt, 0, 0));
        Integrations = await db.TrackerIntegrations.AsNoTracking().Where(i => i.ProjectId == Id).OrderBy(i => i.Id)
            .Select(i => new IntegrationLine(i.Id, i.BaseUrl, i.ProjectKey, i.Username, i.LastSyncedAt)).ToListAsync(cancellationToken);
        return true;
    }
}

public sealed class NewCaseInput
{
    [Required, StringLength(500, MinimumLength = 1)]
    public string Title { get; set; } = "";

    [StringLength(10000)]
    public string? Description { get; set; }
}

public sealed class NewRunInput
{
    [Required, StringLength(300, MinimumLength = 1)]
    public string Name { get; set; } = "";
}

public sealed class NewIntegrationInput
{
    [Required, StringLength(500)]
    public string BaseUrl { get; set; } = "";

    [Required, StringLength(100, MinimumLength = 1)]
    public string ProjectKey { get; set; } = "";

    [StringLength(200)]
    public string? Username { get; set; }

    [StringLength(500)]
    public string? ApiToken { get; set; }
}
