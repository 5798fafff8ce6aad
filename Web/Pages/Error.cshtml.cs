using System.Diagnostics;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Web.Services;

namespace Web.Pages;

/// <summary>
/// The site's own page for 4xx and 5xx answers to page requests (the API answers problem+json instead), in the
/// layout, saying what happened and where to go from here. Reached by re-execution (status code pages, the exception
/// handler), which keeps the original method, so it answers every method and asks for no antiforgery token.
/// </summary>
[AllowAnonymous]
[IgnoreAntiforgeryToken]
internal sealed class ErrorModel : PageModel
{
    [BindProperty(SupportsGet = true)]
    public int? Code { get; set; }

    /// <summary>The status shown and answered: the re-executed request's, an exception's own (a queue outage is 503), or the address's.</summary>
    public int Status { get; private set; }

    public string Title { get; private set; } = "";

    public string Explanation { get; private set; } = "";

    /// <summary>For a 500: the trace the failure was logged under, to quote to an administrator.</summary>
    public string? TraceId { get; private set; }

    public override void OnPageHandlerExecuting(Microsoft.AspNetCore.Mvc.Filters.PageHandlerExecutingContext context)
    {
        var exception = HttpContext.Features.Get<IExceptionHandlerFeature>()?.Error;
        Status = exception switch
        {
            NotFoundException => StatusCodes.Status404NotFound,
            StackExchange.Redis.RedisException => StatusCodes.Status503ServiceUnavailable,
            _ => Code is >= 400 and <= 599 ? Code.Value : StatusCodes.Status404NotFound,
        };
        (Title, Explanation) = Status switch
        {
            StatusCodes.Status400BadRequest => ("The request could not be accepted",
                "A form may have expired or come from another site. Go back, reload the page and try again."),
            StatusCodes.Status403Forbidden => ("Not allowed",
                $"You are signed in as {User.Identity?.Name}, who may not open this page: it is for this tenant's administrators."),
            StatusCodes.Status404NotFound => ("Not found",
                "There is nothing at this address here. It may have been removed, or it may belong to another tenant: each tenant's projects, runs and jobs exist only on its own site."),
            StatusCodes.Status503ServiceUnavailable => ("Temporarily unavailable",
                "The job queue cannot be reached just now. What was saved is kept; try the action again in a moment."),
            >= 500 => ("Something went wrong",
                "The failure has been logged. Try again; if it keeps happening, give your administrator the trace id below."),
            _ => ($"The request was refused ({Status})", "Go back and try again."),
        };
        if (Status >= 500)
        {
            TraceId = Activity.Current?.TraceId.ToString();
        }
        Response.StatusCode = Status;
    }
}
