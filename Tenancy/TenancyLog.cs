using Microsoft.Extensions.Logging;

namespace Tenancy;

/// <summary>Every log line tenancy writes. Some texts are contracts (see ARCHITECTURE.md) and are asserted by tests.</summary>
internal static partial class TenancyLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded {Count} tenant configurations from {Source}")]
    public static partial void Loaded(ILogger logger, int count, string source);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Single-tenant mode (MULTI_TENANT_MODE is not true): no tenant configurations are loaded")]
    public static partial void SingleTenantMode(ILogger logger);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "Reloaded {Count} tenant configurations from {Source} (added: {Added}; removed: {Removed}; changed: {Changed})")]
    public static partial void Reloaded(ILogger logger, int count, string source, string added, string removed, string changed);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error,
        Message = "Could not reload tenant configurations from TENANT_CONFIG_FILE ({Path}): {Problem} Keeping the last good configuration ({Count} tenants).")]
    public static partial void ReloadFailed(ILogger logger, string path, string problem, int count);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning,
        Message = "Watching TENANT_CONFIG_FILE ({Path}) reported an error; re-reading the file in case a change was missed")]
    public static partial void WatcherFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Error, Message = "A handler of the tenant settings Changed event failed")]
    public static partial void ChangedHandlerFailed(ILogger logger, Exception exception);
}
