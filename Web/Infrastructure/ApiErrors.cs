using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Web.Services;

namespace Web.Infrastructure;

internal static class ErrorResponses
{
    /// <summary>Whether a request is the API's (problem+json) rather than a page's (HTML in the site's layout).</summary>
    public static bool IsApi(HttpContext context) => IsApi(context.Request.Path);

    private static bool IsApi(PathString path) => path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a failed request was the API's: the exception handler has already pointed the request at the error page.</summary>
    public static bool FailedInApi(HttpContext context) =>
        IsApi(context.Features.Get<IExceptionHandlerPathFeature>()?.Path is { } original ? new PathString(original) : context.Request.Path);

    /// <summary>
    /// Errors as each kind of client reads them: the API answers problem+json (<see cref="ApiExceptionHandler"/> for
    /// every exception, status code pages for an empty 4xx/5xx); a page answers the site's own error page in its layout,
    /// with a way back (Pages/Error), keeping the status code. One middleware of each kind at the top level, not a
    /// branch per kind: re-executing a request is routed again only from the application's own pipeline.
    /// </summary>
    public static IApplicationBuilder UseErrorResponses(this IApplicationBuilder app) => app
        .UseExceptionHandler("/error/500")
        // Outer: pages get the error page. Inner: the API gets a problem, and its body keeps the outer one out.
        .UseStatusCodePagesWithReExecute("/error/{0}")
        .UseStatusCodePages()
        .Use((context, next) =>
        {
            if (!IsApi(context) && context.Features.Get<IStatusCodePagesFeature>() is { } problems)
            {
                problems.Enabled = false;
            }
            return next(context);
        });
}

/// <summary>
/// Turns the domain's refusals into problem details: a field-level 400 for bad input (naming the field), 404 for
/// what this tenant does not have, 409 for a duplicate. Nothing was written when any of these is raised.
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!ErrorResponses.FailedInApi(httpContext))
        {
            // A page's error is the error page's to show (it reads the exception to choose its words).
            return false;
        }
        var problem = exception switch
        {
            InvalidRequestException invalid => new ValidationProblemDetails(new Dictionary<string, string[]> { [invalid.Field] = [invalid.Message] })
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "One or more validation errors occurred.",
            },
            BadHttpRequestException bad => new ValidationProblemDetails(new Dictionary<string, string[]> { ["body"] = [bad.InnerException?.Message ?? bad.Message] })
            {
                Status = bad.StatusCode,
                Title = "The request could not be read.",
            },
            NotFoundException missing => new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = missing.Message },
            DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } unique } => new ProblemDetails
            {
                Status = StatusCodes.Status409Conflict,
                Title = "It already exists.",
                Detail = unique.ConstraintName,
            },
            Queue.Storage.JobQueueFullException full => new ProblemDetails
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many of this tenant's jobs are waiting on one queue; nothing was queued. Try again once some have run.",
                Detail = full.Message,
            },
            StackExchange.Redis.RedisException queueDown => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The job queue is unavailable; what was saved is kept, try the action again shortly.",
                Detail = queueDown.GetType().Name,
            },
            // Anything else is the server's fault: a plain 500 problem (the exception is logged, never shown).
            _ => new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "An error occurred while processing your request." },
        };
        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }
}
