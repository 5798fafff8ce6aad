namespace AppHost;

/// <summary>
/// The job queues of ARCHITECTURE.md, whose counts the tenant rows show. The AppHost does not reference Domain, so the
/// names are repeated here; a test keeps them equal to <c>Domain.Jobs.QueueNames.All</c>.
/// </summary>
internal static class JobQueues
{
    public static IReadOnlyList<string> All { get; } =
        ["notifications", "emails", "forecast-updates", "issue-sync", "elasticsearch-reindex", "testmo-imports"];
}
