using Domain.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Apis;
using Web.Infrastructure;

namespace Web.Pages;

internal sealed class ImportsModel(TenantDbContext db) : PageModel
{
    public const int PageSize = 25;

    public Paged<ImportDto> Items { get; private set; } = null!;

    public ProjectChoice Projects { get; private set; } = null!;

    [BindProperty(SupportsGet = true, Name = "p")]
    public int? PageNumber { get; set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Items = await WorkApi.Imports(db).ToPagedAsync(PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
        Projects = await ProjectChoice.LoadAsync(db, cancellationToken);
    }

    /// <summary>The list alone, rendered the same way, for the page's script to refresh it in place while imports run.</summary>
    public async Task<IActionResult> OnGetListAsync(CancellationToken cancellationToken)
    {
        Items = await WorkApi.Imports(db).ToPagedAsync(PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
        return Partial("_ImportList", this);
    }
}

public sealed record ProjectOption(long Id, string Name);

/// <summary>
/// The projects a form offers to choose from: all of them in a list while there are few; past
/// <see cref="ListLimit"/>, the form asks for a project's id instead, so the page does not grow with the tenant.
/// </summary>
public sealed record ProjectChoice(IReadOnlyList<ProjectOption> Options, long Total)
{
    public const int ListLimit = 200;

    public bool AsList => Total <= ListLimit;

    internal static async Task<ProjectChoice> LoadAsync(TenantDbContext db, CancellationToken cancellationToken)
    {
        var total = await db.Projects.LongCountAsync(cancellationToken);
        var options = total > ListLimit ? []
            : await db.Projects.AsNoTracking().OrderBy(p => p.Name).Select(p => new ProjectOption(p.Id, p.Name)).ToListAsync(cancellationToken);
        return new ProjectChoice(options, total);
    }
}
