using Domain.Infrastructure;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Apis;

namespace Web.Pages;

internal sealed class ImportsModel(TenantDbContext db) : PageModel
{
    public IReadOnlyList<ImportDto> Items { get; private set; } = [];

    public IReadOnlyList<ProjectOption> Projects { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Items = (await WorkApi.ListImports(db, cancellationToken)).Value!;
        Projects = await db.Projects.AsNoTracking().OrderBy(p => p.Name).Select(p => new ProjectOption(p.Id, p.Name)).ToListAsync(cancellationToken);
    }
}

public sealed record ProjectOption(long Id, string Name);
