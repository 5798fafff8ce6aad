using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Apis;
using Web.Infrastructure;

namespace Web.Pages.Admin;

internal sealed class TokensModel(TenantDbContext db, ApiTokens tokens, TimeProvider time) : PageModel
{
    public const int PageSize = 25;

    public Paged<TokenDto> Tokens { get; private set; } = null!;

    [BindProperty(SupportsGet = true, Name = "p")]
    public int? PageNumber { get; set; }

    /// <summary>The token just created: rendered in this response only, never stored in clear.</summary>
    public string? CreatedSecret { get; private set; }

    public NewTokenInput Input { get; set; } = new();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostCreateAsync([Bind(Prefix = nameof(Input))] NewTokenInput input, CancellationToken cancellationToken)
    {
        Input = input;
        if (ModelState.IsValid)
        {
            var expires = input.ExpiresInDays is { } days ? time.GetUtcNow().AddDays(days) : (DateTimeOffset?)null;
            var (_, secret) = await tokens.CreateAsync(User.UserId(), input.Name.Trim(), expires, cancellationToken);
            CreatedSecret = secret;
            Input = new();
            ModelState.Clear();
        }
        await LoadAsync(cancellationToken);
        return Page();
    }

    public async Task<IActionResult> OnPostRevokeAsync(long tokenId, CancellationToken cancellationToken)
    {
        var userId = User.UserId();
        // An administrator revokes their own tokens here; another user's token id is not found.
        if (!await db.ApiTokens.AnyAsync(t => t.Id == tokenId && t.UserId == userId, cancellationToken) || !await tokens.RevokeAsync(tokenId, cancellationToken))
        {
            return NotFound();
        }
        TempData["Message"] = "Token revoked.";
        return Redirect("/admin/tokens");
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var userId = User.UserId();
        Tokens = await db.ApiTokens.AsNoTracking().Where(t => t.UserId == userId).OrderByDescending(t => t.Id)
            .Select(t => new TokenDto(t.Id, t.Name, t.CreatedAt, t.ExpiresAt, t.RevokedAt)).ToPagedAsync(PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
    }
}

public sealed class NewTokenInput
{
    [Required, StringLength(200, MinimumLength = 1)]
    public string Name { get; set; } = "";

    [Range(1, 3650)]
    public int? ExpiresInDays { get; set; }
}
