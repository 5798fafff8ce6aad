using Microsoft.Extensions.Configuration;

namespace AppHost;

/// <summary>
/// Fixed local ports, so a tenant's web app keeps its address across runs: <c>web-&lt;tenant&gt;</c> at
/// <c>AppHost:WebBasePort</c> (5101) plus its position in tenants.json, the workers at 5090, the scheduler at 5091.
/// Published, the ports are the containers' own (8080). Tests randomise them (<c>DcpPublisher:RandomizePorts</c>).
/// </summary>
internal static class Ports
{
    private const int DefaultWebBase = 5101;
    private const int DefaultWorkers = 5090;
    private const int DefaultScheduler = 5091;

    public static int? Web(IDistributedApplicationBuilder builder, int index) =>
        RunMode(builder) ? (builder.Configuration.GetValue<int?>("AppHost:WebBasePort") ?? DefaultWebBase) + index : null;

    public static int? Workers(IDistributedApplicationBuilder builder) =>
        RunMode(builder) ? builder.Configuration.GetValue<int?>("AppHost:WorkersPort") ?? DefaultWorkers : null;

    public static int? Scheduler(IDistributedApplicationBuilder builder) =>
        RunMode(builder) ? builder.Configuration.GetValue<int?>("AppHost:SchedulerPort") ?? DefaultScheduler : null;

    private static bool RunMode(IDistributedApplicationBuilder builder) => builder.ExecutionContext.IsRunMode;
}
