namespace Domain;

/// <summary>Queue names shared by Web, Workers and Scheduler (ARCHITECTURE.md).</summary>
public static class QueueNames
{
    public const string Notifications = "notifications";
    public const string Emails = "emails";
    public const string ForecastUpdates = "forecast-updates";
    public const string IssueSync = "issue-sync";
    public const string ElasticsearchReindex = "elasticsearch-reindex";
    public const string TestmoImports = "testmo-imports";
}
