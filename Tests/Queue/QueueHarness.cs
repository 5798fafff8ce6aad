using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Queue;
using Queue.Storage;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>Tenant settings held in memory: the test's stand-in for the configured tenant sources (not a Valkey mock).</summary>
internal sealed class FakeTenantSettings(bool multiTenant = true) : ITenantSettingsStore
{
    private readonly ConcurrentDictionary<TenantId, TenantSettings> _tenants = new();

    public bool IsMultiTenant { get; } = multiTenant;

    public TenantId? InstanceTenant => null;

    public TenantSettingsSnapshot Current => new(new Dictionary<TenantId, TenantSettings>(_tenants), "test");

    public event EventHandler<TenantSettingsChangedEventArgs>? Changed;

    public FakeTenantSettings With(string tenant, string? signingKey = null)
    {
        _tenants[TenantId.Parse(tenant)] = new TenantSettings($"postgresql://localhost/{tenant}", SigningKey: signingKey ?? $"key-of-{tenant}");
        Changed?.Invoke(this, new TenantSettingsChangedEventArgs(Current, Current, [], [], []));
        return this;
    }

    public TenantSettings Get(TenantId tenant) =>
        _tenants.TryGetValue(tenant, out var settings) ? settings : throw new TenantNotFoundException(tenant.Value);
}

/// <summary>Collects log lines so tests can check the contract messages.</summary>
internal sealed class LogSink : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogSink sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Lines.Enqueue(formatter(state, exception));
    }
}

/// <summary>A client and (optionally) a server running in a generic host against a test's own Valkey database.</summary>
internal sealed class QueueHost : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    private QueueHost(IHost host, LogSink logs)
    {
        _host = host;
        Logs = logs;
    }

    public IServiceProvider Services => _host.Services;

    public LogSink Logs { get; }

    public IJobQueueClient Client => Services.GetRequiredService<IJobQueueClient>();

    public IJobQueueAdmin Admin => Services.GetRequiredService<IJobQueueAdmin>();

    public IRecurringJobClient Recurring => Services.GetRequiredService<IRecurringJobClient>();

    internal QueueStorage Storage => Services.GetRequiredService<QueueStorage>();

    /// <summary>
    /// Shards per queue of every test host: <c>QUEUE_TEST_SHARDS</c>, 1 by default. eng/test.sh runs the queue's tests
    /// a second time with 3, so that everything the engine does is shown to hold over shards too.
    /// </summary>
    public static int TestShards { get; } = int.TryParse(Environment.GetEnvironmentVariable("QUEUE_TEST_SHARDS"), out var shards) && shards > 0 ? shards : 1;

    public static Task<QueueHost> StartAsync(
        RedisTestDatabase db,
        ITenantSettingsStore tenants,
        Action<JobQueueServerBuilder>? server = null,
        TimeProvider? time = null,
        Action<JobQueueServerOptions>? serverOptions = null,
        Action<JobQueueOptions>? options = null,
        Action<IServiceCollection>? services = null) =>
        StartAsync(db.ConnectionString, tenants, server, time, serverOptions, options, services);

    /// <summary>A host on any Valkey connection (a user of an ACL'd server, a cluster).</summary>
    public static async Task<QueueHost> StartAsync(
        string connectionString,
        ITenantSettingsStore tenants,
        Action<JobQueueServerBuilder>? server = null,
        TimeProvider? time = null,
        Action<JobQueueServerOptions>? serverOptions = null,
        Action<JobQueueOptions>? options = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var logs = new LogSink();
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(tenants);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }
        builder.Services.AddJobQueueClient(o =>
        {
            o.ConnectionString = connectionString;
            o.Shards = TestShards;
            options?.Invoke(o);
        });
        if (server is not null)
        {
            server(builder.Services.AddJobQueueServer(o =>
            {
                o.ShutdownTimeout = TimeSpan.FromSeconds(5);
                serverOptions?.Invoke(o);
            }));
        }
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return new QueueHost(host, logs);
    }

    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _host.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
    }
}

internal static class Tenants
{
    public static readonly TenantId A = TenantId.Parse("tenant-a");
    public static readonly TenantId B = TenantId.Parse("tenant-b");
    public static readonly TenantId C = TenantId.Parse("tenant-c");

    public static FakeTenantSettings Settings() => new FakeTenantSettings().With("tenant-a").With("tenant-b").With("tenant-c");

    public static async Task<T> AsAsync<T>(TenantId tenant, Func<Task<T>> action)
    {
        using (TenantScope.Begin(tenant))
        {
            return await action();
        }
    }
}
