using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Web.Infrastructure;
using Web.Services;

namespace Web.Apis;

public sealed record CreateProjectRequest([Required, StringLength(200, MinimumLength = 1)] string Name, [StringLength(4000)] string? Description);

public sealed record CreateCaseRequest([Required, StringLength(500, MinimumLength = 1)] string Title, [StringLength(10000)] string? Description);

public sealed record CreateRunRequest([Required, StringLength(300, MinimumLength = 1)] string Name);

public sealed record RecordResultsRequest([Required, MinLength(1), MaxLength(1000)] IReadOnlyList<ResultInput> Results);

public sealed record ProjectDto(long Id, string Name, string? Description, DateTimeOffset CreatedAt, int Cases, int Runs);

public sealed record CaseDto(long Id, long ProjectId, string Title, string? Description, long? ForecastDurationMs, DateTimeOffset? ForecastComputedAt, IReadOnlyList<IssueDto> Issues);

public sealed record IssueDto(long Id, long IntegrationId, string Key, string? Title, string? Status, string? Url, DateTimeOffset? LastSyncedAt);

/// <summary>A run; its results come a page at a time from <c>GET /api/runs/{id}/results</c>.</summary>
public sealed record RunDto(long Id, long ProjectId, string Name, DateTimeOffset CreatedAt, RunTotals Totals);

/// <summary>How many results a run has, in all and per status.</summary>
public sealed record RunTotals(long Results, IReadOnlyDictionary<TestResultStatus, long> ByStatus);

public sealed record ResultDto(long Id, long CaseId, TestResultStatus Status, long? ElapsedMs, string? Comment, long? ExecutedById, DateTimeOffset ExecutedAt);

internal sealed class ProjectServices(TenantDbContext db, TimeProvider time)
{
    public TenantDbContext Db { get; } = db;
    public TimeProvider Time { get; } = time;
}

/// <summary>Projects, their test cases, runs and results.</summary>
internal static class ProjectsApi
{
    public static RouteGroupBuilder MapProjectsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api").WithTags("Projects");

        api.MapGet("/projects", ListProjects);
        api.MapPost("/projects", CreateProject);
        api.MapGet("/projects/{projectId:long}", GetProject);
        api.MapGet("/projects/{projectId:long}/cases", ListCases);
        api.MapPost("/projects/{projectId:long}/cases", CreateCase);
        api.MapGet("/cases/{caseId:long}", GetCase);
        api.MapGet("/projects/{projectId:long}/runs", ListRuns);
        api.MapPost("/projects/{projectId:long}/runs", CreateRun);
        api.MapGet("/runs/{runId:long}", GetRun);
        api.MapGet("/runs/{runId:long}/results", ListResults);
        api.MapPost("/runs/{runId:long}/results", RecordResults);
        return api;
    }

    public static async Task<Ok<Paged<ProjectDto>>> ListProjects(int? page, int? pageSize, [AsParameters] ProjectServices services, CancellationToken cancellationToken) =>
        TypedResults.Ok(await services.Db.Projects.AsNoTracking().OrderBy(p => p.Name).ThenBy(p => p.Id)
            .Select(p => new ProjectDto(p.Id, p.Name, p.Description, p.CreatedAt, p.Cases.Count, p.Runs.Count))
            .ToPagedAsync(PageRequest.ForApi(page, pageSize), cancellationToken));

    public static async Task<Created<ProjectDto>> CreateProject(CreateProjectRequest request, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var project = new Project { Name = request.Name.Trim(), Description = request.Description, CreatedAt = services.Time.GetUtcNow() };
        services.Db.Projects.Add(project);
        await services.Db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/projects/{project.Id}", new ProjectDto(project.Id, project.Name, project.Description, project.CreatedAt, 0, 0));
    }

    public static async Task<Results<Ok<ProjectDto>, NotFound>> GetProject(long projectId, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var project = await services.Db.Projects.AsNoTracking().Where(p => p.Id == projectId)
            .Select(p => new ProjectDto(p.Id, p.Name, p.Description, p.CreatedAt, p.Cases.Count, p.Runs.Count))
            .SingleOrDefaultAsync(cancellationToken);
        return project is null ? TypedResults.NotFound() : TypedResults.Ok(project);
    }

    public static async Task<Results<Ok<Paged<CaseDto>>, NotFound>> ListCases(long projectId, int? page, int? pageSize, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var request = PageRequest.ForApi(page, pageSize);
        if (!await services.Db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await services.Db.TestCases.AsNoTracking().Where(c => c.ProjectId == projectId).OrderBy(c => c.Id)
            .Select(c => new CaseDto(c.Id, c.ProjectId, c.Title, c.Description, c.ForecastDurationMs, c.ForecastComputedAt,
                c.Issues.Select(i => new IssueDto(i.Id, i.IntegrationId, i.Key, i.Title, i.Status, i.Url, i.LastSyncedAt)).ToList()))
            .ToPagedAsync(request, cancellationToken));
    }

    public static async Task<Results<Created<CaseDto>, NotFound>> CreateCase(long projectId, CreateCaseRequest request, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        if (!await services.Db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            return TypedResults.NotFound();
        }
        var testCase = new TestCase { ProjectId = projectId, Title = request.Title.Trim(), Description = request.Description, CreatedAt = services.Time.GetUtcNow() };
        services.Db.TestCases.Add(testCase);
        await services.Db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/cases/{testCase.Id}", new CaseDto(testCase.Id, projectId, testCase.Title, testCase.Description, null, null, []));
    }

    public static async Task<Results<Ok<CaseDto>, NotFound>> GetCase(long caseId, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var testCase = await services.Db.TestCases.AsNoTracking().Where(c => c.Id == caseId)
            .Select(c => new CaseDto(c.Id, c.ProjectId, c.Title, c.Description, c.ForecastDurationMs, c.ForecastComputedAt,
                c.Issues.Select(i => new IssueDto(i.Id, i.IntegrationId, i.Key, i.Title, i.Status, i.Url, i.LastSyncedAt)).ToList()))
            .SingleOrDefaultAsync(cancellationToken);
        return testCase is null ? TypedResults.NotFound() : TypedResults.Ok(testCase);
    }

    public static async Task<Results<Ok<Paged<RunDto>>, NotFound>> ListRuns(long projectId, int? page, int? pageSize, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var request = PageRequest.ForApi(page, pageSize);
        if (!await services.Db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            return TypedResults.NotFound();
        }
        var runs = await services.Db.TestRuns.AsNoTracking().Where(r => r.ProjectId == projectId).OrderByDescending(r => r.Id)
            .ToPagedAsync(request, cancellationToken);
        var totals = await TotalsAsync(services.Db, [.. runs.Items.Select(r => r.Id)], cancellationToken);
        return TypedResults.Ok(runs.Select(r => ToDto(r, totals)));
    }

    public static async Task<Created<RunDto>> CreateRun(long projectId, CreateRunRequest request, TestRunService runs, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var run = await runs.CreateRunAsync(projectId, request.Name, user.UserId(), cancellationToken);
        return TypedResults.Created($"/api/runs/{run.Id}", ToDto(run, new Dictionary<long, RunTotals>()));
    }

    public static async Task<Results<Ok<RunDto>, NotFound>> GetRun(long runId, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var run = await services.Db.TestRuns.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId, cancellationToken);
        return run is null ? TypedResults.NotFound() : TypedResults.Ok(ToDto(run, await TotalsAsync(services.Db, [run.Id], cancellationToken)));
    }

    /// <summary>A page of the run's results in the order they were recorded.</summary>
    public static async Task<Results<Ok<Paged<ResultDto>>, NotFound>> ListResults(long runId, int? page, int? pageSize, [AsParameters] ProjectServices services, CancellationToken cancellationToken)
    {
        var request = PageRequest.ForApi(page, pageSize, maxSize: MaxResultsPageSize);
        if (!await services.Db.TestRuns.AnyAsync(r => r.Id == runId, cancellationToken))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await services.Db.TestResults.AsNoTracking().Where(x => x.RunId == runId).OrderBy(x => x.Id)
            .Select(x => new ResultDto(x.Id, x.CaseId, x.Status, x.ElapsedMs, x.Comment, x.ExecutedById, x.ExecutedAt))
            .ToPagedAsync(request, cancellationToken));
    }

    /// <summary>As many results as one request may record, so a client can read back what it wrote in one page.</summary>
    public const int MaxResultsPageSize = 1000;

    /// <summary>The totals of each of <paramref name="runIds"/>: one grouped query over the (run_id, id) index.</summary>
    internal static async Task<IReadOnlyDictionary<long, RunTotals>> TotalsAsync(TenantDbContext db, IReadOnlyCollection<long> runIds, CancellationToken cancellationToken)
    {
        var counts = await db.TestResults.AsNoTracking().Where(x => runIds.Contains(x.RunId))
            .GroupBy(x => new { x.RunId, x.Status }).Select(g => new { g.Key.RunId, g.Key.Status, Count = g.LongCount() })
            .ToListAsync(cancellationToken);
        return counts.GroupBy(c => c.RunId).ToDictionary(
            g => g.Key,
            g => new RunTotals(g.Sum(c => c.Count), g.ToDictionary(c => c.Status, c => c.Count)));
    }

    private static RunDto ToDto(TestRun run, IReadOnlyDictionary<long, RunTotals> totals) =>
        new(run.Id, run.ProjectId, run.Name, run.CreatedAt, totals.GetValueOrDefault(run.Id) ?? new RunTotals(0, new Dictionary<TestResultStatus, long>()));

    public static async Task<Ok<List<ResultDto>>> RecordResults(long runId, RecordResultsRequest request, TestRunService runs, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var rows = await runs.RecordResultsAsync(runId, request.Results, user.UserId(), user.Identity?.Name ?? "Someone", cancellationToken);
        return TypedResults.Ok(rows.Select(x => new ResultDto(x.Id, x.CaseId, x.Status, x.ElapsedMs, x.Comment, x.ExecutedById, x.ExecutedAt)).ToList());
    }
}
