using Microsoft.Extensions.DependencyInjection;

namespace Queue.Server;

/// <summary>Runs one job with a handler resolved from the job's own scope.</summary>
internal delegate Task JobHandlerInvoker(IServiceProvider services, JobContext context, CancellationToken cancellationToken);

/// <summary>The queues this server processes and the handler for each job name, collected at registration.</summary>
internal sealed class JobQueueRegistry
{
    public Dictionary<string, Dictionary<string, JobHandlerInvoker>> Queues { get; } = new(StringComparer.Ordinal);

    public static JobHandlerInvoker For<THandler>() where THandler : IJobHandler =>
        (services, context, ct) => services.GetRequiredService<THandler>().HandleAsync(context, ct);
}
