using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Web.Services;

namespace Web.Infrastructure;

/// <summary>
/// Turns the domain's refusals into problem details: a field-level 400 for bad input (naming the field), 404 for
/// what this tenant does not have, 409 for a duplicate. Nothing was written when any of these is raised.
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails? problem = exception switch
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
            StackExchange.Redis.RedisException queueDown => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The job queue is unavailable; what was saved is kept, try the action again shortly.",
                Detail = queueDown.GetType().Name,
            },
            _ => null,
        };
        if (problem is null)
        {
            return false;
        }
        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }
}
