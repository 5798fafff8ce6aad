using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Domain.Jobs;
using Microsoft.Extensions.Options;
using Queue;
using Tenancy;

namespace Scheduler.Reconciliation;

/// <summary>Scheduler settings (environment variables of the same names).</summary>
public sealed class SchedulerOptions
{
    /// <summary>
    /// Spreads tenants over this many minutes after each job's base time (a stable offset per tenant), so a hundred
    /// tenants do not all start their nightly forecast at 03:00 sharp. 0 disables staggering.
    /// </summary>
    [Range(0, 1440)]
    [Microsoft.Extensions.Configuration.ConfigurationKeyName("SCHEDULER_STAGGER_MINUTES")]
    public int StaggerMinutes { get; set; }
}

/// <summary>One recurring job the scheduler keeps for a tenant (null tenant: a single-tenant deployment).</summary>
public sealed record DesiredRecurringJob(TenantId? Tenant, string Queue, string Id, string Cron, string? TimeZone, string JobName);

/// <summary>What one reconcile changed.</summary>
public sealed record ReconcileReport(IReadOnlyList<string> Upserted, IReadOnlyList<string> Unchanged, IReadOnlyList<string> Removed)
{
    public bool Changed => Upserted.Count > 0 || Removed.Count > 0;
}

/// <summary>
/// Makes the recurring jobs in Valkey match the tenant settings: for every tenant
/// <c>update-all-cases-forecast-&lt;tenant&gt;</c> at <c>0 3 * * *</c> and <c>send-daily-digest-&lt;tenant&gt;</c> at
/// <c>0 8 * * *</c> in the tenant's time zone (optionally staggered); removes those of tenants no longer configured,
/// and the single-tenant names when the deployment is multi-tenant. Idempotent (an identical upsert changes nothing)
/// and safe when two scheduler instances run at once: every step is a single atomic upsert or remove.
/// </summary>
public sealed class RecurringJobReconciler(
    ITenantSettingsStore settings,
    IRecurringJobClient recurring,
    IRecurringJobInventory inventory,
    IOptions<SchedulerOptions> options)
{
    private static readonly (string Queue, string JobName, int Hour, int Minute)[] Templates =
    [
        (QueueNames.ForecastUpdates, JobNames.UpdateAllCasesForecast, 3, 0),
        (QueueNames.Notifications, JobNames.SendDailyDigest, 8, 0),
    ];

    /// <summary>The ids the scheduler owns on a queue: the template names, alone or suffixed with a tenant.</summary>
    private static bool IsManaged(string queue, string recurringId) =>
        Templates.Any(t => t.Queue == queue && (recurringId == t.JobName || recurringId.StartsWith(t.JobName + "-", StringComparison.Ordinal)));

    public IReadOnlyList<DesiredRecurringJob> Desired()
    {
        var desired = new List<DesiredRecurringJob>();
        if (!settings.IsMultiTenant)
        {
            desired.AddRange(Templates.Select(t => new DesiredRecurringJob(null, t.Queue, t.JobName, Cron(t.Hour, t.Minute, 0), null, t.JobName)));
            return desired;
        }
        foreach (var (tenant, tenantSettings) in settings.Current.Tenants.OrderBy(t => t.Key.Value, StringComparer.Ordinal))
        {
            var offset = StaggerOffset(tenant);
            desired.AddRange(Templates.Select(t => new DesiredRecurringJob(
                tenant, t.Queue, $"{t.JobName}-{tenant.Value}", Cron(t.Hour, t.Minute, offset), tenantSettings.TimeZone, t.JobName)));
        }
        return desired;
    }

    public async Task<ReconcileReport> ReconcileAsync(CancellationToken cancellationToken)
    {
        var upserted = new List<string>();
        var unchanged = new List<string>();
        var removed = new List<string>();
        var desired = Desired();

        foreach (var job in desired)
        {
            using var scope = job.Tenant is { } tenant ? TenantScope.Begin(tenant) : null;
            var changed = await recurring.UpsertAsync(job.Queue, job.Id, job.Cron, job.JobName, "{}", job.TimeZone, cancellationToken);
            (changed ? upserted : unchanged).Add(Describe(job.Tenant, job.Queue, job.Id) + $" at '{job.Cron}'" + (job.TimeZone is null ? "" : $" ({job.TimeZone})"));
        }

        var wanted = desired.Select(d => (d.Tenant, d.Queue, d.Id)).ToHashSet();
        foreach (var queue in Templates.Select(t => t.Queue).Distinct())
        {
            foreach (var existing in await inventory.ListAsync(queue, cancellationToken))
            {
                if (IsManaged(queue, existing.Id) && !wanted.Contains((existing.Tenant, queue, existing.Id))
                    && await inventory.RemoveAsync(queue, existing.Tenant, existing.Id, cancellationToken))
                {
                    removed.Add(Describe(existing.Tenant, queue, existing.Id));
                }
            }
        }
        return new ReconcileReport(upserted, unchanged, removed);
    }

    private static string Cron(int hour, int minute, int offsetMinutes)
    {
        var total = (hour * 60) + minute + offsetMinutes;
        return $"{total % 60} {total / 60 % 24} * * *";
    }

    /// <summary>A stable offset in [0, window) from the tenant id, so re-running never moves a tenant's schedule.</summary>
    private int StaggerOffset(TenantId tenant)
    {
        var window = options.Value.StaggerMinutes;
        return window == 0 ? 0 : (int)(BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(tenant.Value))) % (uint)window);
    }

    private static string Describe(TenantId? tenant, string queue, string id) => $"{queue}/{id}" + (tenant is { } t ? $" (tenant {t})" : " (single-tenant)");
}
