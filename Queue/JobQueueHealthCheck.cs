using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Queue.Storage;
using StackExchange.Redis;

namespace Queue;

/// <summary>Registers a readiness check that the queue's own Valkey connection answers PING.</summary>
public static class JobQueueHealthCheckExtensions
{
    /// <summary>Adds the check as <paramref name="name"/> (default <c>valkey</c>). Needs the queue client or server registered.</summary>
    public static IHealthChecksBuilder AddJobQueueCheck(this IHealthChecksBuilder builder, string name = "valkey") =>
        builder.AddCheck<JobQueueHealthCheck>(name, HealthStatus.Unhealthy, ["ready"]);
}

internal sealed class JobQueueHealthCheck(QueueConnection connection) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var db = await connection.DatabaseAsync();
            var latency = await db.PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy($"PING answered in {latency.TotalMilliseconds:0.0} ms.");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("Valkey does not answer PING.", e);
        }
    }
}
