using System.Collections.Concurrent;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Search;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Queue;
using Tenancy;
using Tests.Infrastructure;
using Tests.Queue;
using Workers.Handlers;
using Workers.Infrastructure;

namespace Tests.Workers;

/// <summary>Tenant settings held in memory, with real database URLs and search settings.</summary>
internal sealed class WorkerTenantSettings : ITenantSettingsStore
{
    private readonly ConcurrentDictionary<TenantId, TenantSettings> _tenants = new();

    public bool IsMultiTenant => true;

    public TenantId? InstanceTenant => null;

    public TenantSettingsSnapshot Current => new(new Dictionary<TenantId, TenantSettings>(_tenants), "test");

#pragma warning disable CS0067 // The settings never change during a worker test.
    public event EventHandler<TenantSettingsChangedEventArgs>? Changed;
#pragma warning restore CS0067

    public WorkerTenantSettings With(TenantId tenant, TenantSettings settings)
    {
        _tenants[tenant] = settings;
        return this;
    }

    public TenantSettings Get(TenantId tenant) =>
        _tenants.TryGetValue(tenant, out var settings) ? settings : throw new TenantNotFoundException(tenant.Value);
}

/// <summary>
/// The two workers under test behind a real queue: a Valkey database and a migrated PostgreSQL database of the
/// test's own, the handlers registered as the worker registers them, jobs enqueued for tenant-a.
/// </summary>
internal sealed class WorkerHarness : IAsyncDisposable
{
    public static readonly TenantId Tenant = Tenants.A;

    private readonly QueueHost _host;
    private readonly RedisTestDatabase _redis;
    private readonly PostgresTestDatabase _database;
    private readonly NpgsqlDataSource _dataSource;

    private WorkerHarness(QueueHost host, RedisTestDatabase redis, PostgresTestDatabase database)
    {
        _host = host;
        _redis = redis;
        _database = database;
        _dataSource = NpgsqlDataSource.Create(database.ConnectionString);
    }

    public string ConnectionString => _database.ConnectionString;

    public NpgsqlDataSource DataSource => _dataSource;

    /// <param name="search">The tenant's <c>(elasticsearchNode, elasticsearchIndex)</c>, or null for a tenant without search.</param>
    public static async Task<WorkerHarness> StartAsync(TestServers servers, (Uri Node, string Index)? search)
    {
        var redis = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var database = await (await servers.PostgresAsync()).CreateDatabaseAsync("workers");
        await using (var db = Context(database.ConnectionString))
        {
            await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync(Tenant.Value);
        }
        var settings = new WorkerTenantSettings().With(Tenant,
            new TenantSettings(database.Url, search?.Node.ToString(), search?.Index, SigningKey: "key-of-tenant-a"));
        var host = await QueueHost.StartAsync(redis, settings,
            server => server
                .AddQueue(QueueNames.ElasticsearchReindex, 2, o => o.MaxAttempts = 1).AddHandler<ReindexHandler>(Jobs.Reindex.Name)
                .AddQueue(QueueNames.TestmoImports, 1, o => o.MaxAttempts = 1).AddHandler<TestmoImportHandler>(Jobs.Import.Name),
            services: services =>
            {
                services.AddOptions<TenantDatabaseOptions>();
                services.AddSingleton(new SingleTenantDataSource(null));
                services.AddSingleton<TenantDatabases>();
                services.AddScoped<JobDatabase>();
                services.AddScoped<TenantSearch>();
                services.AddSingleton(new ElasticsearchConnections());
            });
        return new WorkerHarness(host, redis, database);
    }

    public static TenantDbContext Context(string connectionString) =>
        new(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(connectionString).Options);

    public TenantDbContext Context() => Context(_database.ConnectionString);

    /// <summary>Enqueues the job for tenant-a and waits until it has completed or failed.</summary>
    public Task<JobDetails> RunAsync<TPayload>(JobContract<TPayload> job, TPayload payload) =>
        RunUntilAsync(job, payload, JobState.Completed, JobState.Failed);

    /// <summary>Enqueues the job for tenant-a and waits until it is in one of <paramref name="states"/>.</summary>
    public async Task<JobDetails> RunUntilAsync<TPayload>(JobContract<TPayload> job, TPayload payload, params JobState[] states)
    {
        using (TenantScope.Begin(Tenant))
        {
            var id = (await _host.Client.EnqueueAsync(job.Queue, job.Name, payload)).Id;
            JobDetails? details = null;
            await Wait.UntilAsync(async () =>
            {
                details = await _host.Admin.GetJobAsync(job.Queue, id);
                return details is not null && states.Contains(details.State);
            }, $"{job.Name} job {id} reaches {string.Join(" or ", states)}");
            return details!;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        await _dataSource.DisposeAsync();
        // Pools of the worker's TenantDatabases are closed with the host; the database can go.
        NpgsqlConnection.ClearAllPools();
        await _database.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
