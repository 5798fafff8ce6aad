using System.ComponentModel.DataAnnotations;
using System.Globalization;
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

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (!ModelState.IsValid)
        {
            return Page();
        }
        switch (await accounts.SignInAsync(Input.Email, Input.Password, ClientAddress.Of(HttpContext), CookieAuthenticationDefaults.AuthenticationScheme, cancellationToken))
        {
            case SignInOutcome.SignedIn signedIn:
                await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, signedIn.Principal);
                // Only a local return URL is honoured: an absolute one would make this page an open redirect.
                return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl! : "/projects");
            case SignInOutcome.Blocked blocked:
                ModelState.AddModelError(string.Empty, blocked.Message);
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                Response.Headers.RetryAfter = blocked.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                return Page();
            default:
                ModelState.AddModelError(string.Empty, "The email or the password is not right.");
                return Page();
        }
    }
}

public sealed class SignInInput
{
    [Required, EmailAddress]
    public string Email { get; set; } = "";

    [Required, DataType(DataType.Password)]
    public string Password { get; set; } = "";
}
