using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace Dashboard.Ui;

/// <summary>
/// Browser sign-in with the token the AppHost prints: <c>/login?t=&lt;token&gt;</c> sets an HttpOnly cookie and
/// redirects to the resources page; a wrong or missing token shows a form to paste it.
/// </summary>
internal static class Login
{
    public static void MapLogin(this IEndpointRouteBuilder app)
    {
        app.MapGet("/login", SignInAsync).AllowAnonymous();
        app.MapPost("/login", SignInFromFormAsync).AllowAnonymous().DisableAntiforgery();
    }

    private static Task<IResult> SignInAsync(HttpContext context, IOptions<DashboardOptions> options, string? t, string? returnUrl) =>
        TrySignInAsync(context, options.Value, t, returnUrl);

    private static async Task<IResult> SignInFromFormAsync(HttpContext context, IOptions<DashboardOptions> options)
    {
        var form = await context.Request.ReadFormAsync();
        return await TrySignInAsync(context, options.Value, form["t"], form["returnUrl"]);
    }

    private static async Task<IResult> TrySignInAsync(HttpContext context, DashboardOptions options, string? token, string? returnUrl)
    {
        var target = returnUrl is { Length: > 1 } && returnUrl[0] == '/' && returnUrl[1] != '/' && returnUrl[1] != '\\' ? returnUrl : "/";
        if (options.Unsecured)
        {
            return TypedResults.Redirect(target);
        }
        if (token is { Length: > 0 } && options.LoginToken is { Length: > 0 } expected
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(expected)))
        {
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "operator")], CookieAuthenticationDefaults.AuthenticationScheme);
            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            return TypedResults.Redirect(target);
        }
        var message = token is null ? "Open the link the AppHost printed, or paste its token." : "That token is not valid.";
        return TypedResults.Content(Layout.LoginPage(message, target), "text/html; charset=utf-8",
            statusCode: token is null ? StatusCodes.Status200OK : StatusCodes.Status401Unauthorized);
    }
}
