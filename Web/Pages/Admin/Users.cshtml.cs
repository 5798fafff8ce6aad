using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Web.Infrastructure;
using Web.Services;

namespace Web.Pages.Admin;

internal sealed class UsersModel(TenantDbContext db, UserAccounts accounts) : PageModel
{
    public const int PageSize = 50;

    public Paged<Apis.UserDto> Users { get; private set; } = null!;

    [BindProperty(SupportsGet = true, Name = "p")]
    public int? PageNumber { get; set; }

    [BindProperty]
    public NewUserInput Input { get; set; } = new();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (ModelState.IsValid)
        {
            var email = Domain.Model.User.NormalizeEmail(Input.Email);
            if (await db.Users.AnyAsync(u => u.Email == email, cancellationToken))
            {
                ModelState.AddModelError("Input.Email", "A user with this email already exists.");
            }
            else
            {
                try
                {
                    var user = await accounts.CreateAsync(Input.Email, Input.Name, string.IsNullOrEmpty(Input.Password) ? null : Input.Password, Input.IsAdmin, Input.EmailPreference, cancellationToken);
                    TempData["Message"] = $"User {user.Email} created.";
                    return Redirect("/admin/users");
                }
                catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
                {
                    ModelState.AddModelError("Input.Email", "A user with this email already exists.");
                }
            }
        }
        await LoadAsync(cancellationToken);
        return Page();
    }

    /// <summary>Lifts a sign-in lock on the user's account and forgets its failed attempts.</summary>
    public async Task<IActionResult> OnPostUnlockAsync(long userId, CancellationToken cancellationToken)
    {
        if (!await accounts.UnlockAsync(userId, cancellationToken))
        {
            return NotFound();
        }
        TempData["Message"] = "Account unlocked: its failed sign-ins are forgotten.";
        return Redirect(PageNumber is > 1 ? $"/admin/users?p={PageNumber}" : "/admin/users");
    }

    private async Task LoadAsync(CancellationToken cancellationToken) =>
        Users = await accounts.ListAsync(PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
}

public sealed class NewUserInput
{
    [Required, EmailAddress, StringLength(320)]
    public string Email { get; set; } = "";

    [Required, StringLength(200, MinimumLength = 1)]
    public string Name { get; set; } = "";

    [StringLength(200, MinimumLength = 8), DataType(DataType.Password)]
    public string? Password { get; set; }

    public bool IsAdmin { get; set; }

    [EnumDataType(typeof(EmailPreference))]
    public EmailPreference EmailPreference { get; set; } = EmailPreference.Immediate;
}
