using Tenancy;

namespace Scheduler.Reconciliation;

/// <summary>
/// Runs the reconcile. Without <c>--watch</c>: once at start, prints what changed, and stops the host (exit code 0,
/// or 1 if the reconcile failed). With <c>--watch</c>: at start and again whenever the tenant settings change
/// (a <c>TENANT_CONFIG_FILE</c> edit), until stopped.
/// </summary>
public sealed partial class ReconcileService(
    RecurringJobReconciler reconciler,
    ITenantSettingsStore settings,
    IHostApplicationLifetime lifetime,
    SchedulerMode mode,
    ILogger<ReconcileService> logger) : BackgroundService
{
    private readonly SemaphoreSlim _changed = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        settings.Changed += OnChanged;
        try
        {
            var ok = await ReconcileOnceAsync(stoppingToken);
            if (!mode.Watch)
            {
                Environment.ExitCode = ok ? 0 : 1;
                lifetime.StopApplication();
                return;
            }
            while (!stoppingToken.IsCancellationRequested)
            {
                await _changed.WaitAsync(stoppingToken);
                // Coalesce a burst of changes into one reconcile.
                while (_changed.CurrentCount > 0)
                {
                    await _changed.WaitAsync(stoppingToken);
                }
                await ReconcileOnceAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            settings.Changed -= OnChanged;
        }
    }

    private void OnChanged(object? sender, TenantSettingsChangedEventArgs e) => _changed.Release();

    private async Task<bool> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var report = await reconciler.ReconcileAsync(cancellationToken);
            foreach (var line in report.Upserted)
            {
                Log.Upserted(logger, line);
            }
            foreach (var line in report.Removed)
            {
                Log.Removed(logger, line);
            }
            Log.Reconciled(logger, report.Upserted.Count, report.Removed.Count, report.Unchanged.Count);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.Failed(logger, e);
            return false;
        }
    }

    public override void Dispose()
    {
        _changed.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Upserted recurring job {Job}")]
        public static partial void Upserted(ILogger logger, string job);

        [LoggerMessage(2, LogLevel.Information, "Removed recurring job {Job}")]
        public static partial void Removed(ILogger logger, string job);

        [LoggerMessage(3, LogLevel.Information, "Reconciled recurring jobs: {Upserted} upserted, {Removed} removed, {Unchanged} unchanged")]
        public static partial void Reconciled(ILogger logger, int upserted, int removed, int unchanged);

        [LoggerMessage(4, LogLevel.Error, "Reconciling recurring jobs failed")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}

/// <summary>Whether the scheduler keeps running (<c>--watch</c>) or reconciles once and exits.</summary>
public sealed record SchedulerMode(bool Watch)
{
    public static SchedulerMode FromArgs(string[] args) => new(args.Contains("--watch", StringComparer.Ordinal));
}
