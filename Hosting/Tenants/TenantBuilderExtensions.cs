using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Queue;
using StackExchange.Redis;
using Tenancy;

using Hosting.Infrastructure;

namespace Hosting.Tenants;

/// <summary>What the tenant rows need from the topology.</summary>
public sealed class TenantRowOptions
{
    /// <summary>The job queues whose counts the rows show (the queues of ARCHITECTURE.md).</summary>
    public required IReadOnlyList<string> Queues { get; init; }

    /// <summary>Whether a tenant is still configured (the AppHost re-reads its tenant list); commands refuse others.</summary>
    public required Func<string, bool> IsConfigured { get; init; }

    /// <summary>The resource whose start reconciles recurring jobs (the scheduler), for the reconcile command.</summary>
    public IResource? Scheduler { get; init; }

    public TenantThresholds Thresholds { get; init; } = new();

    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// <c>AddTenant</c>: a dashboard row per tenant with live state from Valkey, links to its web app, its Admin > Job
/// Queues and the dashboard's traces, logs and metrics filtered by <c>tenant.id</c>, and operator commands (also
/// <c>aspire resource &lt;tenant&gt; &lt;command&gt;</c>): pause and resume its job processing, retry its failed jobs,
/// reconcile its recurring jobs.
/// </summary>
public static class TenantBuilderExtensions
{
    public const string PauseCommand = "pause-jobs";
    public const string ResumeCommand = "resume-jobs";
    public const string RetryCommand = "retry-failed-jobs";
    public const string ReconcileCommand = "reconcile-schedule";

    public static IResourceBuilder<TenantResource> AddTenant(this IDistributedApplicationBuilder builder, string id,
        IResourceBuilder<IResourceWithConnectionString> valkey, TenantRowOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(valkey);
        ArgumentNullException.ThrowIfNull(options);
        var tenant = new TenantResource(TenantId.Parse(id));
        var monitor = TenantMonitor.For(builder, valkey.Resource, options);
        monitor.Tenants.Add(tenant);
        return builder.AddResource(tenant)
            .WithIconName("PeopleTeam")
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = TenantResource.ResourceType,
                State = new ResourceStateSnapshot(TenantStates.Starting, KnownResourceStateStyles.Info),
                Properties = [],
            })
            .WithCommand(PauseCommand, "Pause job processing", context => monitor.PauseAsync(tenant, context),
                new CommandOptions { Description = "Stop every worker from taking this tenant's jobs; they wait, nothing fails.", IconName = "Pause", IsHighlighted = true })
            .WithCommand(ResumeCommand, "Resume job processing", context => monitor.ResumeAsync(tenant, context),
                new CommandOptions { Description = "Let the workers take this tenant's jobs again.", IconName = "Play", IsHighlighted = true })
            .WithCommand(RetryCommand, "Retry failed jobs", context => monitor.RetryFailedAsync(tenant, context),
                new CommandOptions
                {
                    Description = "Put every failed job of this tenant back to waiting.",
                    ConfirmationMessage = $"Retry every failed job of {id}? Their attempts start again.",
                    IconName = "ArrowRepeatAll",
                })
            .WithCommand(ReconcileCommand, "Reconcile recurring jobs", context => monitor.ReconcileAsync(tenant, context),
                new CommandOptions { Description = "Run the scheduler's reconcile, which brings this tenant's recurring jobs to their schedule.", IconName = "CalendarSync" })
            .ExcludeFromManifest();
    }

    /// <summary>Shows <paramref name="child"/> under the tenant's row; a web app also gives the row its links.</summary>
    public static IResourceBuilder<TenantResource> WithTenantResource<T>(this IResourceBuilder<TenantResource> tenant, IResourceBuilder<T> child) where T : IResource
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(child);
        child.WithParentRelationship(tenant.Resource);
        if (child.Resource is ProjectResource web && tenant.Resource.WebEndpoint is null)
        {
            tenant.Resource.WebEndpoint = web.GetEndpoint("http");
        }
        return tenant;
    }

    /// <summary>The parameters that hold the tenant's administrator email and password, for the console's sign-in hint.</summary>
    public static IResourceBuilder<TenantResource> WithSignIn(this IResourceBuilder<TenantResource> tenant,
        IResourceBuilder<ParameterResource> email, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(email);
        ArgumentNullException.ThrowIfNull(password);
        tenant.Resource.SignIn = new TenantSignIn(email.Resource, password.Resource);
        return tenant;
    }
}

/// <summary>Keeps the tenant rows current and carries out their commands. One per AppHost.</summary>
internal sealed partial class TenantMonitor(IResourceWithConnectionString valkey, TenantRowOptions options, string? configuredDashboardUrl) : IDisposable
{
    private const string DashboardResourceName = "aspire-dashboard";

    private readonly SemaphoreSlim _refresh = new(1, 1);
    private IJobQueueOperator? _queue;
    private TenantBoard? _board;

    public List<TenantResource> Tenants { get; } = [];

    public void Dispose() => _refresh.Dispose();

    public static TenantMonitor For(IDistributedApplicationBuilder builder, IResourceWithConnectionString valkey, TenantRowOptions options)
    {
        if (builder.Services.FirstOrDefault(d => d.ServiceType == typeof(TenantMonitor))?.ImplementationInstance is TenantMonitor existing)
        {
            return existing;
        }
        var dashboard = builder.Configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        var monitor = new TenantMonitor(valkey, options, dashboard);
        builder.Services.AddSingleton(monitor);
        if (builder.ExecutionContext.IsRunMode)
        {
            builder.Eventing.Subscribe<AfterResourcesCreatedEvent>((@event, cancellationToken) =>
            {
                var stopping = @event.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
                _ = Task.Run(() => monitor.RunAsync(@event.Services, stopping), stopping);
                return Task.CompletedTask;
            });
        }
        return monitor;
    }

    private async Task RunAsync(IServiceProvider services, CancellationToken stopping)
    {
        var notifications = services.GetRequiredService<ResourceNotificationService>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Hosting.Tenants");
        try
        {
            // A Valkey user (the operator's) is ready when its server is.
            await notifications.WaitForResourceHealthyAsync(valkey is IResourceWithParent child ? child.Parent.Name : valkey.Name, stopping);
            var connectionString = await valkey.ConnectionStringExpression.GetValueAsync(stopping)
                ?? throw new InvalidOperationException($"{valkey.Name} has no connection string.");
            var queueServices = new ServiceCollection()
                .AddLogging()
                .AddJobQueueOperator(o =>
                {
                    o.ConnectionString = connectionString;
                    o.Shards = ValkeyBuilderExtensions.Topology(valkey).Shards;
                })
                .BuildServiceProvider();
            _queue = queueServices.GetRequiredService<IJobQueueOperator>();
            _board = new TenantBoard(_queue, options.Queues, options.Thresholds, TimeProvider.System);
            using var timer = new PeriodicTimer(options.RefreshInterval);
            do
            {
                await RefreshAsync(notifications, logger, stopping);
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task RefreshAsync(ResourceNotificationService notifications, ILogger logger, CancellationToken cancellationToken)
    {
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            var figures = await _board!.RefreshAsync([.. Tenants.Select(t => t.Id)], cancellationToken);
            foreach (var (tenant, row) in Tenants.Zip(figures))
            {
                var configured = options.IsConfigured(tenant.Name);
                await notifications.PublishUpdateAsync(tenant, s => s with
                {
                    State = configured ? new ResourceStateSnapshot(row.State, row.Style) : new ResourceStateSnapshot(TenantStates.NotConfigured, KnownResourceStateStyles.Warn),
                    StartTimeStamp = s.StartTimeStamp ?? DateTime.UtcNow,
                    Properties = Properties(row),
                    Urls = Links(tenant, notifications),
                });
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The rows keep their last state and the loop goes on: Valkey coming back is the next refresh's business.
            Log.RefreshFailed(logger, ex.Message);
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>
    /// The row's figures as the dashboard's details pane shows them without "Show all": highlighted (it shows only the
    /// properties it knows, or those marked so), in the board's order, under their display names.
    /// </summary>
    internal static System.Collections.Immutable.ImmutableArray<ResourcePropertySnapshot> Properties(TenantFigures row) =>
        [.. new[] { new TenantFigure(SummaryProperty, "Summary", row.Summary) }.Concat(row.Properties).Select((figure, order) =>
            new ResourcePropertySnapshot(figure.Name, figure.Value) { DisplayName = figure.DisplayName, IsHighlighted = true, SortOrder = order })];

    internal const string SummaryProperty = "tenant.summary";

    private System.Collections.Immutable.ImmutableArray<UrlSnapshot> Links(TenantResource tenant, ResourceNotificationService notifications)
    {
        // The dashboard's own resource knows where it really listens (DCP may have chosen the port); configuration is the fallback.
        var dashboardUrl = notifications.TryGetCurrentState(DashboardResourceName, out var dashboard)
            && dashboard.Snapshot.Urls.FirstOrDefault(u => u.Name is "https" or "http") is { } url
            && Uri.TryCreate(url.Url, UriKind.Absolute, out var address)
                ? address.GetLeftPart(UriPartial.Authority)
                : configuredDashboardUrl;
        // Display names make the links readable (the dashboard masks query strings in a bare address); higher sort
        // orders come first.
        var links = new List<UrlSnapshot>();
        void Link(string name, string url) => links.Add(new UrlSnapshot(name, url, IsInternal: false)
        {
            DisplayProperties = new UrlDisplayPropertiesSnapshot(name, SortOrder: 100 - links.Count),
        });
        if (tenant.WebEndpoint is { IsAllocated: true } web)
        {
            Link("Web app", web.Url);
            Link("Admin > Job Queues", web.Url.TrimEnd('/') + "/admin/queues");
        }
        if (dashboardUrl is not null)
        {
            var filter = Uri.EscapeDataString($"tenant.id:equals:{tenant.Name}");
            Link("Traces", $"{dashboardUrl}/traces?filters={filter}");
            Link("Structured logs", $"{dashboardUrl}/structuredlogs?filters={filter}");
            Link("Queue metrics", $"{dashboardUrl}/metrics/resource/workers?meter=Queue&instrument=queue.jobs.completed");
        }
        return [.. links];
    }

    public Task<ExecuteCommandResult> PauseAsync(TenantResource tenant, ExecuteCommandContext context) =>
        ActAsync(tenant, context, "pause", async queue =>
        {
            var result = await queue.PauseTenantAsync(tenant.Id, "paused from the Aspire dashboard", context.CancellationToken);
            return result.Changed
                ? $"Paused {tenant.Name}: no worker takes its jobs now; they wait."
                : $"{tenant.Name} was already paused (since {result.Hold.Since:u}); nothing changed.";
        });

    public Task<ExecuteCommandResult> ResumeAsync(TenantResource tenant, ExecuteCommandContext context) =>
        ActAsync(tenant, context, "resume", async queue =>
        {
            var result = await queue.ResumeTenantAsync(tenant.Id, context.CancellationToken);
            return result.Changed
                ? $"Resumed {tenant.Name}: its jobs run again."
                : $"{tenant.Name} was not paused; nothing changed.";
        });

    public Task<ExecuteCommandResult> RetryFailedAsync(TenantResource tenant, ExecuteCommandContext context) =>
        ActAsync(tenant, context, "retry failed jobs", async queue =>
        {
            var retried = await queue.RetryFailedAsync(tenant.Id, options.Queues, cancellationToken: context.CancellationToken);
            return $"Put {retried} failed job(s) of {tenant.Name} back to waiting.";
        });

    public Task<ExecuteCommandResult> ReconcileAsync(TenantResource tenant, ExecuteCommandContext context) =>
        ActAsync(tenant, context, "reconcile recurring jobs", async _ =>
        {
            if (options.Scheduler is not { } scheduler)
            {
                throw new InvalidOperationException("This topology has no scheduler.");
            }
            var commands = context.Services.GetRequiredService<ResourceCommandService>();
            var started = await commands.ExecuteCommandAsync(scheduler, KnownResourceCommands.StartCommand, context.CancellationToken);
            return started.Success
                ? $"Started {scheduler.Name}, which reconciles {tenant.Name}'s recurring jobs (and every other tenant's, idempotently)."
                : throw new InvalidOperationException($"{scheduler.Name} could not start: {started.Message}");
        });

    /// <summary>An operator action: refused for a tenant no longer configured, logged with the tenant either way.</summary>
    private async Task<ExecuteCommandResult> ActAsync(TenantResource tenant, ExecuteCommandContext context, string action, Func<IJobQueueOperator, Task<string>> act)
    {
        var log = context.Services.GetRequiredService<ResourceLoggerService>().GetLogger(tenant);
        if (!options.IsConfigured(tenant.Name))
        {
            var refused = $"Tenant '{tenant.Name}' is no longer configured; {action} refused, nothing changed.";
            Log.OperatorActionRefused(log, tenant.Name, action, refused);
            return CommandResults.Failure(refused);
        }
        if (_queue is not { } queue)
        {
            return CommandResults.Failure($"Valkey is not ready yet; {action} not done for {tenant.Name}.");
        }
        try
        {
            var message = await act(queue);
            Log.OperatorAction(log, tenant.Name, action, message);
            var notifications = context.Services.GetRequiredService<ResourceNotificationService>();
            await RefreshAsync(notifications, log, context.CancellationToken);
            return CommandResults.Success(message);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException)
        {
            Log.OperatorActionFailed(log, tenant.Name, action, ex.Message);
            return CommandResults.Failure($"{action} failed for {tenant.Name}: {ex.Message}");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Operator action on tenant {TenantId}: {Action}. {Outcome}")]
        public static partial void OperatorAction(ILogger logger, string tenantId, string action, string outcome);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Operator action on tenant {TenantId} refused: {Action}. {Reason}")]
        public static partial void OperatorActionRefused(ILogger logger, string tenantId, string action, string reason);

        [LoggerMessage(Level = LogLevel.Error, Message = "Operator action on tenant {TenantId} failed: {Action}. {Reason}")]
        public static partial void OperatorActionFailed(ILogger logger, string tenantId, string action, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant rows not refreshed: {Reason}")]
        public static partial void RefreshFailed(ILogger logger, string reason);
    }
}
