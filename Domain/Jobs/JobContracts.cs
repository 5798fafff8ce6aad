namespace Domain.Jobs;

/// <summary>Queue names: a contract shared by Web, Workers and Scheduler (ARCHITECTURE.md).</summary>
public static class QueueNames
{
    public const string Notifications = "notifications";
    public const string Emails = "emails";
    public const string ForecastUpdates = "forecast-updates";
    public const string IssueSync = "issue-sync";
    public const string ElasticsearchReindex = "elasticsearch-reindex";
    public const string TestmoImports = "testmo-imports";

    public static IReadOnlyList<string> All { get; } =
        [Notifications, Emails, ForecastUpdates, IssueSync, ElasticsearchReindex, TestmoImports];
}

/// <summary>Job names: a contract shared by Web, Workers and Scheduler (ARCHITECTURE.md).</summary>
public static class JobNames
{
    public const string CreateNotification = "create-notification";
    public const string SendDailyDigest = "send-daily-digest";
    public const string SendEmail = "send-email";
    public const string UpdateCaseForecast = "update-case-forecast";
    public const string UpdateAllCasesForecast = "update-all-cases-forecast";
    public const string SyncIssue = "sync-issue";
    public const string SyncProjectIssues = "sync-project-issues";
    public const string Reindex = "reindex";
    public const string Import = "import";
}

/// <summary>A job's queue, name and payload type, so producers and handlers cannot disagree on any of them.</summary>
public sealed record JobContract<TPayload>(string Queue, string Name);

/// <summary>Every job of the product. Payloads are JSON (camelCase) and carry ids, never tenant ids: the queue stamps the tenant.</summary>
public static class Jobs
{
    public static JobContract<CreateNotificationPayload> CreateNotification { get; } = new(QueueNames.Notifications, JobNames.CreateNotification);
    public static JobContract<SendDailyDigestPayload> SendDailyDigest { get; } = new(QueueNames.Notifications, JobNames.SendDailyDigest);
    public static JobContract<SendEmailPayload> SendEmail { get; } = new(QueueNames.Emails, JobNames.SendEmail);
    public static JobContract<UpdateCaseForecastPayload> UpdateCaseForecast { get; } = new(QueueNames.ForecastUpdates, JobNames.UpdateCaseForecast);
    public static JobContract<UpdateAllCasesForecastPayload> UpdateAllCasesForecast { get; } = new(QueueNames.ForecastUpdates, JobNames.UpdateAllCasesForecast);
    public static JobContract<SyncIssuePayload> SyncIssue { get; } = new(QueueNames.IssueSync, JobNames.SyncIssue);
    public static JobContract<SyncProjectIssuesPayload> SyncProjectIssues { get; } = new(QueueNames.IssueSync, JobNames.SyncProjectIssues);
    public static JobContract<ReindexPayload> Reindex { get; } = new(QueueNames.ElasticsearchReindex, JobNames.Reindex);
    public static JobContract<ImportPayload> Import { get; } = new(QueueNames.TestmoImports, JobNames.Import);
}

/// <summary>Write an in-app notification for each user; those who want immediate emails also get one.</summary>
/// <param name="UserIds">The people concerned.</param>
/// <param name="Kind">What happened, for example <c>result-failed</c>.</param>
/// <param name="Text">The notification's text.</param>
/// <param name="Link">Path inside the tenant's web app, for example <c>/runs/12</c>.</param>
public sealed record CreateNotificationPayload(IReadOnlyList<long> UserIds, string Kind, string Text, string? Link);

/// <summary>Send each user who wants a digest one email with the last day's unread notifications.</summary>
public sealed record SendDailyDigestPayload;

/// <summary>Send one email. <paramref name="LinkPath"/> is turned into an absolute link with the tenant's base URL.</summary>
public sealed record SendEmailPayload(string To, string Subject, string Body, string? LinkPath = null, IReadOnlyList<long>? NotificationIds = null);

public sealed record UpdateCaseForecastPayload(long CaseId);

public sealed record UpdateAllCasesForecastPayload;

/// <summary>Refresh one external issue from its tracker.</summary>
public sealed record SyncIssuePayload(long IssueId);

/// <summary>Read every issue of the project's tracker project and update the linked ones.</summary>
public sealed record SyncProjectIssuesPayload(long ProjectId);

/// <summary>What a reindex covers.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ReindexScope>))]
public enum ReindexScope
{
    All,
    EntityType,
    Project,
}

/// <summary>The entity types that are searchable.</summary>
public static class SearchEntityTypes
{
    public const string Cases = "cases";
    public const string Runs = "runs";
    public const string Issues = "issues";

    public static IReadOnlyList<string> All { get; } = [Cases, Runs, Issues];
}

/// <summary>Rebuild search documents. <paramref name="EntityType"/> is set for <see cref="ReindexScope.EntityType"/>, <paramref name="ProjectId"/> for <see cref="ReindexScope.Project"/>.</summary>
public sealed record ReindexPayload(ReindexScope Scope, string? EntityType = null, long? ProjectId = null, int BatchSize = ReindexPayload.DefaultBatchSize)
{
    public const int DefaultBatchSize = 500;
    public const int MaxBatchSize = 10_000;
}

/// <summary>Import the stored upload of an <see cref="Model.Import"/> row.</summary>
public sealed record ImportPayload(long ImportId);
