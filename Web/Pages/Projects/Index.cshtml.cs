using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Apis;
using Web.Infrastructure;

namespace Web.Pages.Projects;

internal sealed class ProjectsModel(TenantDbContext db, TimeProvider time) : PageModel
{
    public const int PageSize = 50;

    public Paged<ProjectDto> Projects { get; private set; } = null!;

    [BindProperty(SupportsGet = true, Name = "p")]
    public int? PageNumber { get; set; }

    [BindProperty]
    public NewProjectInput Input { get; set; } = new();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (!ModelState.IsValid)
        {
            await LoadAsync(cancellationToken);
            return Page();
        }
        var project = new Project { Name = Input.Name.Trim(), Description = string.IsNullOrWhiteSpace(Input.Description) ? null : Input.Description.Trim(), CreatedAt = time.GetUtcNow() };
        db.Projects.Add(project);
        await db.SaveChangesAsync(cancellationToken);
        TempData["Message"] = $"Project '{project.Name}' created.";
        return Redirect($"/projects/{project.Id}");
    }

    private async Task LoadAsync(CancellationToken cancellationToken) =>
        Projects = await db.Projects.AsNoTracking().OrderBy(p => p.Name).ThenBy(p => p.Id)
            .Select(p => new ProjectDto(p.Id, p.Name, p.Description, p.CreatedAt, p.Cases.Count, p.Runs.Count))
            .ToPagedAsync(PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
}

public sealed class NewProjectInput
{
    [Required, StringLength(200, MinimumLength = 1)]
    public string Name { get; set; } = "";

    [StringLength(4000)]
    public string? Description { get; set; }
}
