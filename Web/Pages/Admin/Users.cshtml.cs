using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Web.Services;

namespace Web.Pages.Admin;

internal sealed class UsersModel(TenantDbContext db, UserAccounts accounts) : PageModel
{
    public IReadOnlyList<User> Users { get; private set; } = [];

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

    private async Task LoadAsync(CancellationToken cancellationToken) =>
        Users = await db.Users.AsNoTracking().OrderBy(u => u.Email).ToListAsync(cancellationToken);
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
