using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Domain.Search;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Web.Infrastructure;
using Web.Services;

namespace Web.Apis;

public sealed record NotificationDto(long Id, string Kind, string Text, string? Link, bool IsRead, DateTimeOffset CreatedAt);

public sealed record CreateIntegrationRequest(
    [Required, StringLength(500)] string BaseUrl,
    [Required, StringLength(100, MinimumLength = 1)] string ProjectKey,
    [StringLength(200)] string? Username,
    [StringLength(500)] string? ApiToken);

public sealed record IntegrationDto(long Id, long ProjectId, string BaseUrl, string ProjectKey, string? Username, DateTimeOffset? LastSyncedAt);

public sealed record LinkIssueRequest([Range(1, long.MaxValue)] long IntegrationId, [Required, StringLength(100, MinimumLength = 1)] string Key);

public sealed record ReindexRequest(ReindexScope Scope, string? EntityType, long? ProjectId, [Range(1, ReindexPayload.MaxBatchSize)] int? BatchSize);

public sealed record ImportDto(long Id, string FileName, long SizeBytes, ImportStatus Status, int Progress, long? ProjectId,
    int CasesImported, int RunsImported, int ResultsImported, string? Error, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

public sealed record JobAcceptedDto(string Queue, string JobId);

/// <summary>Notifications, linked issues, search, reindex and imports: the actions that hand work to the workers.</summary>
internal static class WorkApi
{
    public static RouteGroupBuilder MapWorkApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api");

        api.MapGet("/notifications", ListNotifications).WithTags("Notifications");
        api.MapPost("/notifications/{notificationId:long}/read", MarkRead).WithTags("Notifications");
        api.MapPost("/notifications/read-all", MarkAllRead).WithTags("Notifications");

        api.MapGet("/projects/{projectId:long}/integrations", ListIntegrations).WithTags("Issues");
        api.MapPost("/projects/{projectId:long}/integrations", AddIntegration).WithTags("Issues").RequireAuthorization(AuthorizationPolicies.Admin);
        api.MapPost("/projects/{projectId:long}/sync-issues", SyncProjectIssues).WithTags("Issues");
        api.MapPost("/cases/{caseId:long}/issues", LinkIssue).WithTags("Issues");
        api.MapPost("/issues/{issueId:long}/refresh", RefreshIssue).WithTags("Issues");

        api.MapGet("/search", Search).WithTags("Search");
        api.MapPost("/admin/reindex", Reindex).WithTags("Search").RequireAuthorization(AuthorizationPolicies.Admin);

        api.MapGet("/imports", ListImports).WithTags("Imports");
        api.MapGet("/imports/{importId:long}", GetImport).WithTags("Imports");
        // Cookie-authenticated uploads carry the antiforgery token in its header (RequestForgeryProtection): the token
        // is never looked for in the multipart body, which is streamed, not read as a form.
        api.MapPost("/imports", Upload).WithTags("Imports");
        return api;
    }

    public static async Task<Ok<Paged<NotificationDto>>> ListNotifications(bool? unread, int? page, int? pageSize, ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        var request = PageRequest.ForApi(page, pageSize);
        var id = user.UserId();
        var query = db.Notifications.AsNoTracking().Where(n => n.UserId == id);
        if (unread == true)
        {
            query = query.Where(n => !n.IsRead);
        }
        return TypedResults.Ok(await query.OrderByDescending(n => n.Id)
            .Select(n => new NotificationDto(n.Id, n.Kind, n.Text, n.Link, n.IsRead, n.CreatedAt)).ToPagedAsync(request, cancellationToken));
    }

    public static async Task<Results<NoContent, NotFound>> MarkRead(long notificationId, ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        var id = user.UserId();
        var updated = await db.Notifications.Where(n => n.Id == notificationId && n.UserId == id)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.IsRead, true), cancellationToken);
        return updated == 0 ? TypedResults.NotFound() : TypedResults.NoContent();
    }

    public static async Task<NoContent> MarkAllRead(ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        var id = user.UserId();
        await db.Notifications.Where(n => n.UserId == id && !n.IsRead).ExecuteUpdateAsync(s => s.SetProperty(n => n.IsRead, true), cancellationToken);
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<Paged<IntegrationDto>>, NotFound>> ListIntegrations(long projectId, int? page, int? pageSize, TenantDbContext db, CancellationToken cancellationToken)
    {
        var request = PageRequest.ForApi(page, pageSize);
        if (!await db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await db.TrackerIntegrations.AsNoTracking().Where(i => i.ProjectId == projectId).OrderBy(i => i.Id)
            .Select(i => new IntegrationDto(i.Id, i.ProjectId, i.BaseUrl, i.ProjectKey, i.Username, i.LastSyncedAt)).ToPagedAsync(request, cancellationToken));
    }

    public static async Task<Created<IntegrationDto>> AddIntegration(long projectId, CreateIntegrationRequest request, IssueService issues, CancellationToken cancellationToken)
    {
        var i = await issues.AddIntegrationAsync(projectId, request.BaseUrl, request.ProjectKey, request.Username, request.ApiToken, cancellationToken);
        return TypedResults.Created($"/api/projects/{projectId}/integrations", new IntegrationDto(i.Id, i.ProjectId, i.BaseUrl, i.ProjectKey, i.Username, i.LastSyncedAt));
    }

    public static async Task<Accepted> SyncProjectIssues(long projectId, IssueService issues, CancellationToken cancellationToken)
    {
        await issues.SyncProjectAsync(projectId, cancellationToken);
        return TypedResults.Accepted((string?)null);
    }

    public static async Task<Ok<IssueDto>> LinkIssue(long caseId, LinkIssueRequest request, IssueService issues, CancellationToken cancellationToken)
    {
        var i = await issues.LinkAsync(caseId, request.IntegrationId, request.Key, cancellationToken);
        return TypedResults.Ok(new IssueDto(i.Id, i.IntegrationId, i.Key, i.Title, i.Status, i.Url, i.LastSyncedAt));
    }

    public static async Task<Accepted> RefreshIssue(long issueId, IssueService issues, CancellationToken cancellationToken)
    {
        await issues.RefreshAsync(issueId, cancellationToken);
        return TypedResults.Accepted((string?)null);
    }

    /// <summary>One page of hits; <c>source</c> names the engine that answered (<c>postgresql</c> or <c>elasticsearch</c>).</summary>
    public static async Task<Ok<SearchResultDto>> Search(string? q, int? page, int? pageSize, SearchService search, CancellationToken cancellationToken)
    {
        var results = await search.SearchAsync(q, page, pageSize, cancellationToken);
        return TypedResults.Ok(new SearchResultDto(results.Hits, results.Engine, results.Total, results.Page, results.PageSize, results.Notice));
    }

    /// <summary>202 with the job for a tenant with Elasticsearch; 200 saying no reindex is needed for PostgreSQL full-text search.</summary>
    public static async Task<Results<Accepted<JobAcceptedDto>, Ok<ReindexNotNeededDto>>> Reindex(ReindexRequest request, ReindexService reindex, CancellationToken cancellationToken)
    {
        var outcome = await reindex.RequestAsync(request.Scope, request.EntityType, request.ProjectId, request.BatchSize, cancellationToken);
        return outcome.Job is { } job
            ? TypedResults.Accepted((string?)null, new JobAcceptedDto(QueueNames.ElasticsearchReindex, job.Id))
            : TypedResults.Ok(new ReindexNotNeededDto(outcome.Engine, Queued: false, ReindexOutcome.NotNeeded));
    }

    public static async Task<Ok<Paged<ImportDto>>> ListImports(int? page, int? pageSize, TenantDbContext db, CancellationToken cancellationToken) =>
        TypedResults.Ok(await Imports(db).ToPagedAsync(PageRequest.ForApi(page, pageSize), cancellationToken));

    /// <summary>The tenant's imports, newest first.</summary>
    internal static IQueryable<ImportDto> Imports(TenantDbContext db) => db.Imports.AsNoTracking().OrderByDescending(i => i.Id).Select(i => ToDto(i));

    public static async Task<Results<Ok<ImportDto>, NotFound>> GetImport(long importId, TenantDbContext db, CancellationToken cancellationToken)
    {
        var import = await db.Imports.AsNoTracking().Where(i => i.Id == importId).Select(i => ToDto(i)).SingleOrDefaultAsync(cancellationToken);
        return import is null ? TypedResults.NotFound() : TypedResults.Ok(import);
    }

    /// <summary>
    /// Accepts a Testmo export either as the raw request body (<c>?fileName=...&amp;projectId=...</c>) or as the
    /// <c>file</c> part of a multipart form; either way it is streamed into the database, never buffered whole.
    /// </summary>
    public static async Task<Accepted<ImportDto>> Upload(HttpContext context, string? fileName, long? projectId, ImportService imports, IOptions<WebOptions> options, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var maxBytes = options.Value.IMPORT_MAX_BYTES;
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Our own limit applies, counted while streaming; Kestrel's default 30 MB would cut real exports short.
            limit.MaxRequestBodySize = null;
        }
        if (context.Request.ContentLength > maxBytes)
        {
            throw new InvalidRequestException("file", $"The upload exceeds the maximum of {maxBytes} bytes.");
        }

        Domain.Model.Import import;
        if (MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType) && mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value
                ?? throw new InvalidRequestException("file", "The multipart request has no boundary.");
            var reader = new MultipartReader(boundary, context.Request.Body);
            long? formProject = projectId;
            while (true)
            {
                MultipartSection? next;
                try
                {
                    next = await reader.ReadNextSectionAsync(cancellationToken);
                }
                catch (Exception e) when (e is IOException or InvalidDataException && !cancellationToken.IsCancellationRequested)
                {
                    // A body declared multipart that is not (no boundary line, a truncated part): the client's fault.
                    throw new InvalidRequestException("file", $"The body is declared multipart/form-data but is not valid multipart: {e.Message}");
                }
                var section = next ?? throw new InvalidRequestException("file", "The form has no 'file' part.");
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }
                if (disposition.Name.Value == "projectId" && !disposition.FileName.HasValue)
                {
                    var text = await section.ReadAsStringAsync(cancellationToken);
                    formProject = string.IsNullOrWhiteSpace(text) ? null
                        : long.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed
                        : throw new InvalidRequestException("projectId", $"'{text}' is not a project id.");
                    continue;
                }
                if (disposition.Name.Value == "file" && (disposition.FileName.HasValue || disposition.FileNameStar.HasValue))
                {
                    var name = disposition.FileNameStar.HasValue ? disposition.FileNameStar.Value : disposition.FileName.Value;
                    try
                    {
                        import = await imports.UploadAsync(section.Body, name ?? "", formProject, user.UserId(), maxBytes, cancellationToken);
                    }
                    catch (Exception e) when (e is IOException or InvalidDataException && !cancellationToken.IsCancellationRequested)
                    {
                        // The part ends before its boundary: nothing was stored (the upload's transaction rolled back).
                        throw new InvalidRequestException("file", $"The multipart body ends inside the file part: {e.Message}");
                    }
                    break;
                }
            }
        }
        else
        {
            import = await imports.UploadAsync(context.Request.Body, fileName ?? "", projectId, user.UserId(), maxBytes, cancellationToken);
        }
        return TypedResults.Accepted($"/api/imports/{import.Id}", ToDto(import));
    }

    private static ImportDto ToDto(Domain.Model.Import i) =>
        new(i.Id, i.FileName, i.SizeBytes, i.Status, i.Progress, i.ProjectId, i.CasesImported, i.RunsImported, i.ResultsImported, i.Error, i.CreatedAt, i.FinishedAt);
}

/// <summary>A page of search hits. <c>titleHtml</c> and <c>snippetHtml</c> of a hit are escaped HTML with the matches in <c>&lt;mark&gt;</c>.</summary>
public sealed record SearchResultDto(IReadOnlyList<SearchHit> Hits, string Source, long Total, int Page, int PageSize, string? Notice);

public sealed record ReindexNotNeededDto(string Engine, bool Queued, string Message);
