using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;

namespace Web.Services;

/// <summary>External issues linked to cases; every link or refresh asks the worker to read the tracker.</summary>
internal sealed class IssueService(TenantDbContext db, JobPublisher jobs, JobOutbox outbox, TimeProvider time)
{
    public async Task<TrackerIntegration> AddIntegrationAsync(long projectId, string baseUrl, string projectKey, string? username, string? apiToken, CancellationToken cancellationToken)
    {
        if (!await db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            throw new NotFoundException($"Project {projectId}");
        }
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new InvalidRequestException("baseUrl", "The tracker's base URL must be an absolute http or https URL.");
        }
        var integration = new TrackerIntegration
        {
            ProjectId = projectId,
            BaseUrl = uri.ToString().TrimEnd('/'),
            ProjectKey = projectKey.Trim(),
            Username = username,
            ApiToken = apiToken,
            CreatedAt = time.GetUtcNow(),
        };
        db.TrackerIntegrations.Add(integration);
        await db.SaveChangesAsync(cancellationToken);
        return integration;
    }

    /// <summary>Links the tracker issue <paramref name="key"/> to a case (creating its local copy) and enqueues <c>sync-issue</c>.</summary>
    public async Task<ExternalIssue> LinkAsync(long caseId, long integrationId, string key, CancellationToken cancellationToken)
    {
        var testCase = await db.TestCases.Include(c => c.Issues).SingleOrDefaultAsync(c => c.Id == caseId, cancellationToken)
            ?? throw new NotFoundException($"Case {caseId}");
        var integration = await db.TrackerIntegrations.SingleOrDefaultAsync(i => i.Id == integrationId, cancellationToken);
        if (integration is null || integration.ProjectId != testCase.ProjectId)
        {
            throw new InvalidRequestException("integrationId", $"Integration {integrationId} is not an integration of the case's project.");
        }
        var normalizedKey = key.Trim().ToUpperInvariant();
        var issue = await db.ExternalIssues.SingleOrDefaultAsync(i => i.IntegrationId == integrationId && i.Key == normalizedKey, cancellationToken);
        if (issue is null)
        {
            issue = new ExternalIssue { IntegrationId = integrationId, Key = normalizedKey };
            db.ExternalIssues.Add(issue);
        }
        if (!testCase.Issues.Contains(issue))
        {
            testCase.Issues.Add(issue);
        }
        // The link and its sync job commit together (the job needs the issue's id, hence two saves in one transaction).
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await db.SaveChangesAsync(cancellationToken);
            outbox.Add(Jobs.SyncIssue, new SyncIssuePayload(issue.Id));
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await outbox.CommittedAsync();
        return issue;
    }

    public async Task RefreshAsync(long issueId, CancellationToken cancellationToken)
    {
        if (!await db.ExternalIssues.AnyAsync(i => i.Id == issueId, cancellationToken))
        {
            throw new NotFoundException($"Issue {issueId}");
        }
        await jobs.EnqueueAsync(Jobs.SyncIssue, new SyncIssuePayload(issueId), cancellationToken);
    }

    public async Task SyncProjectAsync(long projectId, CancellationToken cancellationToken)
    {
        if (!await db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            throw new NotFoundException($"Project {projectId}");
        }
        if (!await db.TrackerIntegrations.AnyAsync(i => i.ProjectId == projectId, cancellationToken))
        {
            throw new InvalidRequestException("projectId", $"Project {projectId} has no tracker integration to sync.");
        }
        await jobs.EnqueueAsync(Jobs.SyncProjectIssues, new SyncProjectIssuesPayload(projectId), cancellationToken);
    }
}
