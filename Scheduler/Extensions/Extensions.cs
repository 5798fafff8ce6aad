using Queue;
using Scheduler.Reconciliation;
using Tenancy;

namespace Scheduler.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder, string[] args)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddTenancy();
        builder.AddValkeyClient();
        builder.Services.AddJobQueueClient();
        builder.Services.AddHealthChecks().AddJobQueueCheck();
        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration("").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(SchedulerMode.FromArgs(args));
        builder.Services.AddSingleton<RecurringJobReconciler>();
        builder.Services.AddHostedService<ReconcileService>();
    }
}
