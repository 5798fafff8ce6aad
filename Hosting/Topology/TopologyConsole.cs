using System.Globalization;
using System.Text;
using Hosting.Tenants;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hosting.Topology;

/// <summary>
/// <c>AddTopologyConsole</c>: what the AppHost's console says while it runs, so a terminal is enough to follow it.
/// One line when a resource changes state (starting, running, healthy, finished, or an error with where its console log
/// is), and once everything is up, each tenant's web address, its sign-in page and where its administrator's password
/// is. Run mode only; published output is unchanged.
/// </summary>
public static class TopologyConsoleExtensions
{
    public const string LoggerCategory = "Topology";

    /// <summary>The setting that turns the detail back on, here and in every project: <c>DETAILED_LOGS=true</c>.</summary>
    public const string DetailedLogsSetting = "DETAILED_LOGS";

    /// <summary>
    /// The AppHost's own chatter, at Warning unless <c>DETAILED_LOGS=true</c> (filter rules that configuration
    /// overrides: <c>--Logging:LogLevel:&lt;category&gt; Information</c> brings one back).
    /// </summary>
    public static IReadOnlyDictionary<string, LogLevel> QuietCategories { get; } = new Dictionary<string, LogLevel>(StringComparer.Ordinal)
    {
        // Every call of the dashboard to the AppHost's resource service (gRPC), several a second while a page is open.
        ["Microsoft.AspNetCore"] = LogLevel.Warning,
        // DCP's own progress lines.
        ["Aspire.Hosting.Dcp"] = LogLevel.Warning,
        // The resource service is an ASP.NET Core app whose framework creates a data-protection key ring in the user's
        // profile and warns that it is not encrypted. Nothing of ours uses those keys (the service authenticates the
        // dashboard by API key), and the AppHost cannot configure that inner app; its errors still show.
        ["Microsoft.AspNetCore.DataProtection"] = LogLevel.Error,
    };

    public static IDistributedApplicationBuilder AddTopologyConsole(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Configuration.GetValue<bool>(DetailedLogsSetting))
        {
            // Placed first among the filter rules, so configuration for the same category wins. Not a configuration
            // source: adding one reloads the configuration, which drops what Aspire set on it (a publish step).
            var rules = QuietCategories.Select(c => new LoggerFilterRule(providerName: null, c.Key, c.Value, filter: null)).ToList();
            builder.Services.Configure<LoggerFilterOptions>(options =>
            {
                for (var i = rules.Count - 1; i >= 0; i--)
                {
                    options.Rules.Insert(0, rules[i]);
                }
            });
        }
        if (builder.ExecutionContext.IsRunMode)
        {
            builder.Eventing.Subscribe<AfterResourcesCreatedEvent>((@event, cancellationToken) =>
            {
                var services = @event.Services;
                var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
                var console = new TopologyConsole(
                    services.GetRequiredService<ILoggerFactory>().CreateLogger(LoggerCategory),
                    services.GetRequiredService<DistributedApplicationModel>(),
                    services.GetRequiredService<IConfiguration>(),
                    stopping);
                _ = Task.Run(() => console.FollowAsync(services.GetRequiredService<ResourceNotificationService>()), stopping);
                return Task.CompletedTask;
            });
        }
        return builder;
    }
}

/// <summary>Follows every resource's state and writes what changed; announces the topology once it is ready.</summary>
internal sealed partial class TopologyConsole(ILogger logger, DistributedApplicationModel model, IConfiguration configuration, CancellationToken stopping)
{
    private const string DashboardResourceName = "aspire-dashboard";

    /// <summary>By resource id (a replica of a project has one of its own).</summary>
    private readonly Dictionary<string, Seen> _seen = new(StringComparer.Ordinal);
    /// <summary>When the AppHost's process started (after any build that <c>dotnet run</c> made first).</summary>
    private readonly DateTime _startedAt = System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime();
    private bool _announced;

    private sealed record Seen(string Resource, string? State, bool Healthy, bool WasHealthy, int? ExitCode);

    public async Task FollowAsync(ResourceNotificationService notifications)
    {
        try
        {
            await foreach (var update in notifications.WatchAsync(stopping))
            {
                Observe(update, notifications);
                if (!_announced && IsReady(notifications))
                {
                    _announced = true;
                    Log.Ready(logger, await AnnouncementAsync(notifications));
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void Observe(ResourceEvent update, ResourceNotificationService notifications)
    {
        var snapshot = update.Snapshot;
        if (!IsFollowed(update.Resource, snapshot))
        {
            return;
        }
        var name = DisplayName(update);
        var state = snapshot.State?.Text;
        var healthy = snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy;
        var previous = _seen.GetValueOrDefault(update.ResourceId);
        _seen[update.ResourceId] = new Seen(update.Resource.Name, state, healthy, (previous?.WasHealthy ?? false) || healthy, snapshot.ExitCode);
        if (string.IsNullOrEmpty(state) || state == KnownResourceStates.NotStarted)
        {
            return;
        }
        var isTenant = update.Resource is TenantResource;
        if (state != previous?.State)
        {
            if (isTenant && state == TenantStates.Starting)
            {
                return;
            }
            if (IsError(state, snapshot) && !stopping.IsCancellationRequested)
            {
                Log.Failed(logger, name, Describe(state, snapshot), ConsoleLogsOf(update.Resource.Name, notifications));
            }
            else
            {
                Log.StateChanged(logger, name, Describe(state, snapshot) + (!isTenant && state == KnownResourceStates.Running && healthy ? ", healthy" : ""));
            }
        }
        else if (!isTenant && state == KnownResourceStates.Running && healthy != (previous?.Healthy ?? false))
        {
            if (healthy)
            {
                Log.Healthy(logger, name);
            }
            else if (previous?.WasHealthy == true && !stopping.IsCancellationRequested)
            {
                // Unhealthy before its first success is a resource still starting; after it, something went wrong.
                Log.Unhealthy(logger, name, ConsoleLogsOf(update.Resource.Name, notifications));
            }
        }
    }

    /// <summary>Every resource of the topology a user would look at: not parameters, connection strings or hidden ones.</summary>
    private static bool IsFollowed(IResource resource, CustomResourceSnapshot snapshot) =>
        !snapshot.IsHidden
        && resource is not ParameterResource and not ConnectionStringResource
        && resource.Name != DashboardResourceName;

    private static bool IsError(string state, CustomResourceSnapshot snapshot) =>
        state == KnownResourceStates.FailedToStart
        || state == KnownResourceStates.RuntimeUnhealthy
        || (state == KnownResourceStates.Exited && snapshot.ExitCode is not (null or 0));

    private static string Describe(string state, CustomResourceSnapshot snapshot) =>
        snapshot.ExitCode is { } code && (state == KnownResourceStates.Exited || state == KnownResourceStates.Finished)
            ? $"{state} (exit code {code.ToString(CultureInfo.InvariantCulture)})"
            : state;

    /// <summary>Ready: every followed resource (tenant rows aside) runs and is healthy, or finished cleanly.</summary>
    private bool IsReady(ResourceNotificationService notifications)
    {
        foreach (var resource in model.Resources)
        {
            if (resource is TenantResource
                || !notifications.TryGetCurrentState(resource.Name, out var current)
                || !IsFollowed(resource, current.Snapshot))
            {
                continue;
            }
            var instances = _seen.Values.Where(s => s.Resource == resource.Name).ToList();
            if (instances.Count == 0 || !instances.All(IsReady))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsReady(Seen instance) =>
        instance.State == KnownResourceStates.Finished
        || (instance.State == KnownResourceStates.Exited && instance.ExitCode == 0)
        || (instance.State == KnownResourceStates.Running && instance.Healthy);

    private async Task<string> AnnouncementAsync(ResourceNotificationService notifications)
    {
        var text = new StringBuilder();
        var tenants = model.Resources.OfType<TenantResource>().ToList();
        text.Append(CultureInfo.InvariantCulture, $"Topology ready {(DateTime.UtcNow - _startedAt).TotalSeconds:0} s after the AppHost started");
        if (tenants.Count == 0)
        {
            return text.Append('.').ToString();
        }
        text.Append(CultureInfo.InvariantCulture, $": {tenants.Count} tenant{(tenants.Count == 1 ? "" : "s")}.");
        string? passwordParameter = null;
        foreach (var tenant in tenants)
        {
            var web = tenant.WebEndpoint is { IsAllocated: true } endpoint ? endpoint.Url.TrimEnd('/') : null;
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  {tenant.Name,-12} ");
            if (web is null)
            {
                text.Append("(no web app)");
                continue;
            }
            text.Append(CultureInfo.InvariantCulture, $"{web}  sign in at {web}/signin");
            if (tenant.SignIn is { } signIn)
            {
                var email = signIn.Email.Secret ? null : await ValueOfAsync(signIn.Email);
                text.Append(CultureInfo.InvariantCulture, $" as {email ?? signIn.Email.Name}, password: parameter {signIn.Password.Name}");
                passwordParameter ??= signIn.Password.Name;
            }
        }
        if (passwordParameter is not null)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture,
                $"  Passwords: the dashboard's Resources > Parameters tab (show the value of {passwordParameter}, ...), or `dotnet user-secrets list --project AppHost`.");
        }
        if (DashboardRoot(notifications) is { } dashboard)
        {
            var login = configuration["AppHost:BrowserToken"] is { Length: > 0 } token ? $"{dashboard}/login?t={token}" : dashboard;
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  Dashboard: {login}");
        }
        return text.ToString();
    }

    private static string? DashboardRoot(ResourceNotificationService notifications) =>
        notifications.TryGetCurrentState(DashboardResourceName, out var dashboard)
        && dashboard.Snapshot.Urls.FirstOrDefault(u => u.Name is "https" or "http") is { } url
        && Uri.TryCreate(url.Url, UriKind.Absolute, out var address)
            ? address.GetLeftPart(UriPartial.Authority)
            : null;

    private async Task<string?> ValueOfAsync(ParameterResource parameter)
    {
        try
        {
            return await parameter.GetValueAsync(stopping);
        }
        catch (Exception ex) when (ex is InvalidOperationException or MissingParameterValueException)
        {
            return null;
        }
    }

    private static string ConsoleLogsOf(string resource, ResourceNotificationService notifications) =>
        DashboardRoot(notifications) is { } dashboard
            ? $"its console log: {dashboard}/consolelogs/resource/{Uri.EscapeDataString(resource)}"
            : "its console log: the dashboard's Console logs page";

    private static string DisplayName(ResourceEvent update) =>
        update.Resource.TryGetAnnotationsOfType<ReplicaAnnotation>(out var replicas) && replicas.Any(r => r.Replicas > 1)
            ? update.ResourceId
            : update.Resource.Name;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "{Resource}: {State}")]
        public static partial void StateChanged(ILogger logger, string resource, string state);

        [LoggerMessage(2, LogLevel.Information, "{Resource}: healthy")]
        public static partial void Healthy(ILogger logger, string resource);

        [LoggerMessage(3, LogLevel.Warning, "{Resource}: unhealthy; {Where}")]
        public static partial void Unhealthy(ILogger logger, string resource, string where);

        [LoggerMessage(4, LogLevel.Error, "{Resource}: {State}; {Where}")]
        public static partial void Failed(ILogger logger, string resource, string state, string where);

        [LoggerMessage(5, LogLevel.Information, "{Announcement}")]
        public static partial void Ready(ILogger logger, string announcement);
    }
}
