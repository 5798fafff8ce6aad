using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Queue.Admin;
using Queue.Client;
using Queue.Security;
using Queue.Server;
using Queue.Storage;
using Tenancy;

namespace Queue;

/// <summary>
/// Registers the job queue. Client and server register separately: a web app adds only the client; the worker adds
/// the server with its queues and handlers. Both need an <see cref="ITenantSettingsStore"/> registered by the app.
/// </summary>
public static class JobQueueServiceCollectionExtensions
{
    /// <summary>Adds <see cref="IJobQueueClient"/>, <see cref="IRecurringJobClient"/> and <see cref="IJobQueueAdmin"/>.</summary>
    public static IServiceCollection AddJobQueueClient(this IServiceCollection services, Action<JobQueueOptions>? configure = null)
    {
        AddCore(services, configure);
        services.TryAddSingleton<IJobQueueClient, JobQueueClient>();
        services.TryAddSingleton<IRecurringJobClient, RecurringJobClient>();
        services.TryAddSingleton<IJobQueueAdmin, JobQueueAdmin>();
        services.TryAddSingleton<IRecurringJobInventory, RecurringJobInventory>();
        return services;
    }

    /// <summary>
    /// Adds <see cref="IJobQueueOperator"/>: pause and resume of any tenant, holds and counts across tenants. Only for
    /// operator surfaces (the AppHost's tenant commands, operator tools), never a tenant's web app.
    /// </summary>
    public static IServiceCollection AddJobQueueOperator(this IServiceCollection services, Action<JobQueueOptions>? configure = null)
    {
        AddCore(services, configure);
        services.TryAddSingleton<IJobQueueOperator, Holds.JobQueueOperator>();
        return services;
    }

    /// <summary>Adds the worker side (and <see cref="IJobQueueBacklog"/>); add queues and handlers on the returned builder.</summary>
    public static JobQueueServerBuilder AddJobQueueServer(
        this IServiceCollection services, Action<JobQueueServerOptions>? configure = null, Action<JobQueueOptions>? configureQueue = null)
    {
        AddCore(services, configureQueue);
        services.AddOptions<JobQueueServerOptions>()
            .Configure<IServiceProvider>((o, sp) =>
            {
                if (sp.GetService<IConfiguration>()?["QUEUE_MAX_WAITING_PER_TENANT"] is { Length: > 0 } ceiling)
                {
                    o.MaxWaitingPerTenant = long.TryParse(ceiling, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value > 0
                        ? value
                        : throw new OptionsValidationException(nameof(JobQueueServerOptions), typeof(JobQueueServerOptions),
                            [$"QUEUE_MAX_WAITING_PER_TENANT must be a whole number of jobs, at least 1 (got '{ceiling}')."]);
                }
                configure?.Invoke(o);
            })
            .ValidateDataAnnotations().ValidateOnStart();
        var registry = services.FirstOrDefault(d => d.ServiceType == typeof(JobQueueRegistry))?.ImplementationInstance as JobQueueRegistry;
        if (registry is null)
        {
            registry = new JobQueueRegistry();
            services.AddSingleton(registry);
            services.AddSingleton<JobQueueServer>();
            services.AddSingleton<TenantCircuits>();
            services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<JobQueueServer>());
            services.TryAddSingleton<IJobQueueBacklog, Backlog.JobQueueBacklog>();
        }
        return new JobQueueServerBuilder(services, registry);
    }

    private static void AddCore(IServiceCollection services, Action<JobQueueOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<JobQueueOptions>();
        if (!services.Any(d => d.ServiceType == typeof(QueueStorage)))
        {
            options.Configure<IServiceProvider>((o, sp) =>
            {
                if (sp.GetService<IConfiguration>() is not { } configuration)
                {
                    return;
                }
                o.ConnectionString ??= ValkeyConnection.FromConfiguration(configuration);
                if (configuration["QUEUE_ENCRYPT_PAYLOADS"] is { Length: > 0 } encrypt)
                {
                    o.EncryptPayloads = bool.TryParse(encrypt, out var value)
                        ? value
                        : throw new OptionsValidationException(nameof(JobQueueOptions), typeof(JobQueueOptions),
                            [$"QUEUE_ENCRYPT_PAYLOADS must be true or false (got '{encrypt}')."]);
                }
                if (configuration["QUEUE_WAIT_FOR_REPLICAS"] is { Length: > 0 } replicas)
                {
                    o.WaitForReplicas = int.TryParse(replicas, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value is >= 0 and <= 16
                        ? value
                        : throw new OptionsValidationException(nameof(JobQueueOptions), typeof(JobQueueOptions),
                            [$"QUEUE_WAIT_FOR_REPLICAS must be a whole number from 0 to 16 (got '{replicas}')."]);
                }
                if (configuration["QUEUE_SHARDS"] is { Length: > 0 } shards)
                {
                    o.Shards = int.TryParse(shards, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 1024
                        ? value
                        : throw new OptionsValidationException(nameof(JobQueueOptions), typeof(JobQueueOptions),
                            [$"QUEUE_SHARDS must be a whole number from 1 to 1024 (got '{shards}')."]);
                }
            });
            options.ValidateDataAnnotations().ValidateOnStart();
        }
        if (configure is not null)
        {
            options.PostConfigure(configure);
        }
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ICurrentTenant, AmbientCurrentTenant>();
        services.TryAddSingleton<QueueConnection>();
        services.TryAddSingleton<QueueStorage>();
        services.TryAddSingleton<HoldStore>();
        services.TryAddSingleton<JobAuthority>();
    }
}

/// <summary>Adds queues to the server.</summary>
public sealed class JobQueueServerBuilder
{
    private readonly JobQueueRegistry _registry;

    internal JobQueueServerBuilder(IServiceCollection services, JobQueueRegistry registry)
    {
        Services = services;
        _registry = registry;
    }

    public IServiceCollection Services { get; }

    /// <summary>Processes <paramref name="queue"/> with <paramref name="concurrency"/> jobs at once; add its handlers on the result.</summary>
    public JobQueueBuilder AddQueue(string queue, int concurrency, Action<QueueOptions>? configure = null)
    {
        JobNames.ValidateQueue(queue);
        if (!_registry.Queues.TryAdd(queue, new Dictionary<string, JobHandlerInvoker>(StringComparer.Ordinal)))
        {
            throw new InvalidOperationException($"Queue '{queue}' is already registered.");
        }
        Services.AddOptions<QueueOptions>(queue)
            .Configure(o =>
            {
                o.Concurrency = concurrency;
                configure?.Invoke(o);
            })
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return new JobQueueBuilder(this, _registry.Queues[queue]);
    }
}

/// <summary>Adds handlers to one queue.</summary>
public sealed class JobQueueBuilder
{
    private readonly JobQueueServerBuilder _server;
    private readonly Dictionary<string, JobHandlerInvoker> _handlers;

    internal JobQueueBuilder(JobQueueServerBuilder server, Dictionary<string, JobHandlerInvoker> handlers)
    {
        _server = server;
        _handlers = handlers;
    }

    public IServiceCollection Services => _server.Services;

    /// <summary>Runs jobs named <paramref name="jobName"/> with <typeparamref name="THandler"/>, resolved per job from the job's scope.</summary>
    public JobQueueBuilder AddHandler<THandler>(string jobName) where THandler : class, IJobHandler
    {
        Services.TryAddScoped<THandler>();
        return Add(jobName, JobQueueRegistry.For<THandler>());
    }

    /// <summary>Runs jobs named <paramref name="jobName"/> with a delegate; resolve services from the context's scope via the arguments.</summary>
    public JobQueueBuilder AddHandler(string jobName, Func<IServiceProvider, JobContext, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(jobName, (sp, context, ct) => handler(sp, context, ct));
    }

    /// <summary>Adds the next queue.</summary>
    public JobQueueBuilder AddQueue(string queue, int concurrency, Action<QueueOptions>? configure = null) =>
        _server.AddQueue(queue, concurrency, configure);

    private JobQueueBuilder Add(string jobName, JobHandlerInvoker invoker)
    {
        JobNames.ValidateName(jobName, "job name", nameof(jobName));
        if (!_handlers.TryAdd(jobName, invoker))
        {
            throw new InvalidOperationException($"A handler for job '{jobName}' is already registered on this queue.");
        }
        return this;
    }
}
