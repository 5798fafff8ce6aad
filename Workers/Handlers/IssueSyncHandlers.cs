using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>What the tracker says about one issue.</summary>
public sealed record TrackerIssue(string Key, string? Title, string? Status, string Url);

/// <summary>
/// A Jira-shaped tracker over its REST API v2: <c>GET /rest/api/2/issue/{key}?fields=summary,status</c> and
/// <c>GET /rest/api/2/search?jql=project="{key}"&amp;startAt=&amp;maxResults=&amp;fields=summary,status</c>, with basic
/// auth from the integration's username and API token. HTTP 429 becomes <see cref="JobRetryAfterException"/> with
/// the server's Retry-After, so the job waits instead of failing.
/// </summary>
public sealed class JiraClient(HttpClient http)
{
    public const string HttpClientName = "tracker";
    private const int PageSize = 100;
    private static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>The issue, or null when the tracker does not know it (404).</summary>
    public async Task<TrackerIssue?> GetIssueAsync(TrackerIntegration integration, string key, CancellationToken cancellationToken)
    {
        using var request = Request(integration, $"rest/api/2/issue/{Uri.EscapeDataString(key)}?fields=summary,status");
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        await EnsureSuccessAsync(response, cancellationToken);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return Parse(integration, json.RootElement);
    }

    /// <summary>Every issue of the integration's tracker project, page by page.</summary>
    public async IAsyncEnumerable<TrackerIssue> SearchProjectAsync(TrackerIntegration integration, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var startAt = 0;
        while (true)
        {
            var jql = Uri.EscapeDataString($"project=\"{integration.ProjectKey.Replace("\"", "\\\"", StringComparison.Ordinal)}\" ORDER BY key");
            using var request = Request(integration, $"rest/api/2/search?jql={jql}&startAt={startAt}&maxResults={PageSize}&fields=summary,status");
            using var response = await http.SendAsync(request, cancellationToken);
            await EnsureSuccessAsync(response, cancellationToken);
            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            var issues = json.RootElement.GetProperty("issues");
            foreach (var issue in issues.EnumerateArray())
            {
                yield return Parse(integration, issue);
            }
            var total = json.RootElement.TryGetProperty("total", out var t) ? t.GetInt32() : 0;
            startAt += issues.GetArrayLength();
            if (issues.GetArrayLength() == 0 || startAt >= total)
            {
                yield break;
            }
        }
    }

    private static HttpRequestMessage Request(TrackerIntegration integration, string relative)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(integration.BaseUrl.TrimEnd('/') + "/"), relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (!string.IsNullOrEmpty(integration.Username))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{integration.Username}:{integration.ApiToken}")));
        }
        return request;
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            var delay = response.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - DateTimeOffset.UtcNow,
                _ => DefaultRetryAfter,
            };
            throw new JobRetryAfterException(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, "The tracker asked us to slow down (429).");
        }
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new PermanentJobFailureException($"The tracker refused the integration's credentials ({(int)response.StatusCode}).");
        }
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"The tracker answered {(int)response.StatusCode}: {(body.Length > 300 ? body[..300] : body)}", null, response.StatusCode);
        }
    }

    private static TrackerIssue Parse(TrackerIntegration integration, JsonElement issue)
    {
        var key = issue.GetProperty("key").GetString()!;
        var fields = issue.TryGetProperty("fields", out var f) ? f : default;
        var title = fields.ValueKind == JsonValueKind.Object && fields.TryGetProperty("summary", out var s) ? s.GetString() : null;
        var status = fields.ValueKind == JsonValueKind.Object && fields.TryGetProperty("status", out var st) && st.ValueKind == JsonValueKind.Object && st.TryGetProperty("name", out var n) ? n.GetString() : null;
        return new TrackerIssue(key, title, status, $"{integration.BaseUrl.TrimEnd('/')}/browse/{Uri.EscapeDataString(key)}");
    }
}

/// <summary><c>sync-issue</c>: refreshes one linked issue from its tracker.</summary>
public sealed class SyncIssueHandler(JobDatabase database, JiraClient tracker, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<SyncIssuePayload>();
        var db = await database.ContextAsync(cancellationToken);
        var issue = await db.ExternalIssues.Include(i => i.Integration).SingleOrDefaultAsync(i => i.Id == payload.IssueId, cancellationToken)
            ?? throw new PermanentJobFailureException($"Issue {payload.IssueId} does not exist in this tenant's database.");
        var found = await tracker.GetIssueAsync(issue.Integration!, issue.Key, cancellationToken);
        issue.LastSyncedAt = time.GetUtcNow();
        if (found is null)
        {
            issue.SyncError = "The tracker does not know this issue (404).";
        }
        else
        {
            (issue.Title, issue.Status, issue.Url, issue.SyncError) = (found.Title, found.Status, found.Url, null);
        }
        await db.SaveChangesAsync(cancellationToken);
    }
}

/// <summary>
/// <c>sync-project-issues</c>: reads every issue of the project's tracker projects and updates the local copies
/// of those linked here (issues nobody linked are not copied).
/// </summary>
public sealed class SyncProjectIssuesHandler(JobDatabase database, JiraClient tracker, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<SyncProjectIssuesPayload>();
        var db = await database.ContextAsync(cancellationToken);
        var integrations = await db.TrackerIntegrations.Where(i => i.ProjectId == payload.ProjectId).ToListAsync(cancellationToken);
        var updated = 0;
        foreach (var integration in integrations)
        {
            var local = await db.ExternalIssues.Where(i => i.IntegrationId == integration.Id).ToDictionaryAsync(i => i.Key, cancellationToken);
            var now = time.GetUtcNow();
            await foreach (var found in tracker.SearchProjectAsync(integration, cancellationToken))
            {
                if (local.TryGetValue(found.Key, out var issue))
                {
                    (issue.Title, issue.Status, issue.Url, issue.SyncError, issue.LastSyncedAt) = (found.Title, found.Status, found.Url, null, now);
                    updated++;
                }
            }
            integration.LastSyncedAt = now;
            await db.SaveChangesAsync(cancellationToken);
        }
        await context.ReportProgressAsync(new { updated });
    }
}
