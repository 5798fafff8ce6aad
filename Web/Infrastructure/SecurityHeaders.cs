namespace Web.Infrastructure;

/// <summary>
/// The headers every response carries (pages, API, static files and error pages alike), set as the response starts so
/// that nothing later (an exception handler clearing the response, say) can drop them. HSTS is ASP.NET Core's own
/// (<c>UseHsts</c>), sent only over https.
/// </summary>
internal static class SecurityHeaders
{
    /// <summary>
    /// Scripts, styles, images and fetches from this site only; no inline script or style at all (the pages keep
    /// theirs in <c>wwwroot</c>), no plugins, no <c>&lt;base&gt;</c>, forms post only here, and no framing.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Links to other sites (an issue tracker, the dashboard) get no referrer: URLs carry ids of this tenant's data.</summary>
    public const string ReferrerPolicy = "same-origin";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var headers = ((HttpResponse)state).Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = ReferrerPolicy;
                // For browsers without CSP's frame-ancestors; replaces antiforgery's SAMEORIGIN on pages with forms.
                headers.XFrameOptions = "DENY";
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
                return Task.CompletedTask;
            }, context.Response);
            return next(context);
        });
}
