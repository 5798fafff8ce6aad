using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Web.Infrastructure;

/// <summary>
/// Cross-site request forgery, refused wherever a cookie would sign a request in. A state-changing request (POST,
/// PUT, PATCH, DELETE) that a browser says comes from another origin is refused with 403: a sibling tenant's host
/// (<c>web-tenant-b.example</c> beside <c>web-tenant-a.example</c>) is same-site, so the session cookie's SameSite
/// does not stop it, but <c>Sec-Fetch-Site</c> (or, from browsers without it, <c>Origin</c>) does. A cookie-authenticated
/// state-changing API call must also carry the antiforgery token in its header, or it is refused with 400; the
/// site's pages validate their forms' tokens themselves (Razor Pages). A request with a bearer token is never
/// authenticated by a cookie, so it needs neither: API tokens stay token-only.
/// </summary>
internal static class RequestForgeryProtection
{
    public static IApplicationBuilder UseRequestForgeryProtection(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method) || HttpMethods.IsTrace(request.Method)
                || AuthSchemes.IsBearer(request))
            {
                await next(context);
                return;
            }
            if (ForeignOrigin(request) is { } foreign)
            {
                await RefuseAsync(context, StatusCodes.Status403Forbidden, "Cross-origin request refused.",
                    $"This site accepts changes only from its own pages; the request came from {foreign}.");
                return;
            }
            if (NeedsToken(context))
            {
                var antiforgery = context.RequestServices.GetRequiredService<IAntiforgery>();
                var header = context.RequestServices.GetRequiredService<IOptions<AntiforgeryOptions>>().Value.HeaderName!;
                // Only the header is looked at: an upload's multipart body is streamed by its endpoint, never read as a form here.
                if (!request.Headers.ContainsKey(header))
                {
                    await RefuseAsync(context, StatusCodes.Status400BadRequest, "Antiforgery token missing.",
                        $"A request signed in by the session cookie that changes data must send the '{header}' header with the antiforgery token "
                        + "from the sign-in response (or the page's antiforgery-token meta tag). API clients can use an API token instead.");
                    return;
                }
                try
                {
                    await antiforgery.ValidateRequestAsync(context);
                }
                catch (AntiforgeryValidationException invalid)
                {
                    await RefuseAsync(context, StatusCodes.Status400BadRequest, "Antiforgery token not valid.",
                        $"The '{header}' header does not hold this session's antiforgery token: sign in again for a fresh one. ({invalid.Message})");
                    return;
                }
            }
            await next(context);
        });

    /// <summary>
    /// The origin a browser says a request comes from, when it is not this site: <c>Sec-Fetch-Site</c> where the browser
    /// sends it (it names the relation itself, whatever proxies do to <c>Host</c>), else an <c>Origin</c> that differs
    /// from the request's own. Clients that send neither (scripts, curl) are not browsers a page could drive.
    /// </summary>
    private static string? ForeignOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0)
        {
            return site is "same-origin" or "none" ? null : $"a {site} page{(origin.Length > 0 ? $" ({origin})" : "")}";
        }
        if (origin.Length == 0)
        {
            return null;
        }
        var own = $"{request.Scheme}://{request.Host}";
        return string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) ? null : origin;
    }

    /// <summary>An API endpoint reached by a cookie-authenticated user, unless the endpoint opts out (sign-in).</summary>
    private static bool NeedsToken(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
        && context.User.Identity is { IsAuthenticated: true, AuthenticationType: CookieAuthenticationDefaults.AuthenticationScheme }
        && context.GetEndpoint()?.Metadata.GetMetadata<IAntiforgeryMetadata>() is not { RequiresValidation: false };

    private static Task RefuseAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }
}
