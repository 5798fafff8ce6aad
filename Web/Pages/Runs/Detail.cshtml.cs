using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Infrastructure;
using Web.Services;

namespace Web.Pages.Runs;

internal sealed class RunDetailModel(TenantDbContext db, TestRunService runs) : PageModel
{
    public sealed record ResultLine(long CaseId, string CaseTitle, TestResultStatus Status, long? ElapsedMs, string? Comment, string? By, DateTimeOffset ExecutedAt);

    [BindProperty(SupportsGet = true)]
    public long Id { get; set; }

    public TestRun Run { get; private set; } = null!;

    public string ProjectName { get; private set; } = "";

    public const int ResultsPageSize = 100;
    public const int CasesPageSize = 50;

    public Paged<ResultLine> Results { get; private set; } = null!;

    /// <summary>The run's results per status, over all its results (not just this page).</summary>
    public Apis.RunTotals Totals { get; private set; } = null!;

    [BindProperty(SupportsGet = true, Name = "p")]
    public int? ResultsPage { get; set; }

    [BindProperty(SupportsGet = true, Name = "cases")]
    public int? CasesPage { get; set; }

    /// <summary>The project's cases a page at a time, for the form that records results.</summary>
    public Paged<ResultRow> Cases { get; private set; } = null!;

    /// <summary>One row per case of the form's page; rows left "not run" are not recorded.</summary>
    [BindProperty]
    public IList<ResultRow> Record { get; set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        if (!await LoadAsync(cancellationToken))
        {
            return NotFound();
        }
        Record = [.. Cases.Items];
        return Page();
    }

    public async Task<IActionResult> OnPostRecordAsync(CancellationToken cancellationToken)
    {
        var chosen = Record.Select((row, index) => (row, index)).Where(x => x.row.Status is not null).ToList();
        if (ModelState.IsValid && chosen.Count == 0)
        {
            ModelState.AddModelError(string.Empty, "Choose a status for at least one case.");
        }
        if (ModelState.IsValid)
        {
            try
            {
                var inputs = chosen.Select(x => new ResultInput(x.row.CaseId, x.row.Status!.Value,
                    x.row.ElapsedSeconds is { } s ? (long)Math.Round(s * 1000) : null, x.row.Comment)).ToList();
                var rows = await runs.RecordResultsAsync(Id, inputs, User.UserId(), User.Identity?.Name ?? "Someone", cancellationToken);
                TempData["Message"] = $"{rows.Count} result(s) recorded.";
                return Redirect(CasesPage is > 1 ? $"/runs/{Id}?cases={CasesPage}" : $"/runs/{Id}");
            }
            catch (InvalidRequestException refusal)
            {
                ModelState.AddModelError(FieldFor(refusal.Field, chosen.Select(x => x.index).ToList()), refusal.Message);
            }
            catch (NotFoundException)
            {
                return NotFound();
            }
        }
        return await LoadAsync(cancellationToken) ? Page() : NotFound();
    }

    /// <summary>Maps the service's <c>results[i].field</c> (i among the chosen rows) to the form row it came from.</summary>
    private static string FieldFor(string field, List<int> rowIndexes)
    {
        var match = System.Text.RegularExpressions.Regex.Match(field, @"^results\[(\d+)\]\.(\w+)$");
        if (!match.Success || !int.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var i) || i >= rowIndexes.Count)
        {
            return string.Empty;
        }
        var name = match.Groups[2].Value switch
        {
            "elapsedMs" => nameof(ResultRow.ElapsedSeconds),
            "caseId" => nameof(ResultRow.CaseId),
            "status" => nameof(ResultRow.Status),
            var other => other,
        };
        return $"{nameof(Record)}[{rowIndexes[i]}].{name}";
    }

    private async Task<bool> LoadAsync(CancellationToken cancellationToken)
    {
        var run = await db.TestRuns.AsNoTracking().Include(r => r.Project).SingleOrDefaultAsync(r => r.Id == Id, cancellationToken);
        if (run is null)
        {
            return false;
        }
        Run = run;
        ProjectName = run.Project!.Name;
        Results = await db.TestResults.AsNoTracking().Where(r => r.RunId == Id).OrderBy(r => r.Id)
            .Select(r => new ResultLine(r.CaseId, r.Case!.Title, r.Status, r.ElapsedMs, r.Comment, r.ExecutedBy == null ? null : r.ExecutedBy.Name, r.ExecutedAt))
            .ToPagedAsync(PageRequest.ForPage(ResultsPage, ResultsPageSize), cancellationToken);
        Totals = (await Apis.ProjectsApi.TotalsAsync(db, [Id], cancellationToken)).GetValueOrDefault(Id)
            ?? new Apis.RunTotals(0, new Dictionary<TestResultStatus, long>());
        Cases = await db.TestCases.AsNoTracking().Where(c => c.ProjectId == run.ProjectId).OrderBy(c => c.Id)
            .Select(c => new ResultRow { CaseId = c.Id, CaseTitle = c.Title })
            .ToPagedAsync(PageRequest.ForPage(CasesPage, CasesPageSize), cancellationToken);
        return true;
    }
}

public sealed class ResultRow
{
    public long CaseId { get; set; }

    public string CaseTitle { get; set; } = "";

    public TestResultStatus? Status { get; set; }

    [Range(0, 10_000_000, ErrorMessage = "Elapsed time must be between 0 and 10,000,000 seconds.")]
    public double? ElapsedSeconds { get; set; }

    [StringLength(4000)]
    public string? Comment { get; set; }
}
