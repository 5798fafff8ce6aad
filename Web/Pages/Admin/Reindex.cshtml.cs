using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Search;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Services;

namespace Web.Pages.Admin;

internal sealed class ReindexModel(TenantDbContext db, ReindexService reindex, SearchService search) : PageModel
{
    public ProjectChoice Projects { get; private set; } = null!;

    /// <summary>The engine that serves this tenant; only Elasticsearch has anything to reindex.</summary>
    public string Engine { get; private set; } = SearchEngines.PostgreSql;

    [BindProperty]
    public ReindexInput Input { get; set; } = new();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (ModelState.IsValid)
        {
            try
            {
                var outcome = await reindex.RequestAsync(Input.Scope, Input.EntityType, Input.ProjectId, Input.BatchSize, cancellationToken);
                if (outcome.Job is { } job)
                {
                    TempData["Message"] = $"Reindex job {job.Id} queued.";
                    return Redirect("/admin/queues");
                }
            }
            catch (InvalidRequestException refusal)
            {
                ModelState.AddRefusal(nameof(Input), refusal);
            }
        }
        await LoadAsync(cancellationToken);
        return Page();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        Engine = search.Engine;
        Projects = await ProjectChoice.LoadAsync(db, cancellationToken);
    }
}

public sealed class ReindexInput
{
    [EnumDataType(typeof(ReindexScope))]
    public ReindexScope Scope { get; set; } = ReindexScope.All;

    public string? EntityType { get; set; }

    public long? ProjectId { get; set; }

    [Range(1, ReindexPayload.MaxBatchSize)]
    public int? BatchSize { get; set; } = ReindexPayload.DefaultBatchSize;
}
