using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Web.Services;

namespace Web.Pages;

internal sealed class SignInModel(UserAccounts accounts) : PageModel
{
    [BindProperty]
    public SignInInput Input { get; set; } = new();

    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    /// <summary>The cookie handler sends a signed-in user here when a page is not theirs to open.</summary>
    public bool Denied => User.Identity?.IsAuthenticated == true && ReturnUrl is not null;

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (!ModelState.IsValid)
        {
            return Page();
        }
        var principal = await accounts.SignInAsync(Input.Email, Input.Password, CookieAuthenticationDefaults.AuthenticationScheme, cancellationToken);
        if (principal is null)
        {
            ModelState.AddModelError(string.Empty, "The email or the password is not right.");
            return Page();
        }
        await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
        // Only a local return URL is honoured: an absolute one would make this page an open redirect.
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl! : "/projects");
    }
}

public sealed class SignInInput
{
    [Required, EmailAddress]
    public string Email { get; set; } = "";

    [Required, DataType(DataType.Password)]
    public string Password { get; set; } = "";
}
