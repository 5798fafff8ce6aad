using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Domain.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Tenancy;

namespace Workers.Infrastructure;

/// <summary>How the worker shares its database connections between tenants.</summary>
public sealed class TenantDatabaseOptions
{
    /// <summary>All connections the worker may hold across every tenant database (<c>DATABASE_CONNECTION_BUDGET</c>).</summary>
    [Range(1, 10_000)]
    public int TotalConnections { get; set; } = 100;

    /// <summary>Most connections one tenant's pool may hold (<c>DATABASE_CONNECTIONS_PER_TENANT</c>); never more than the budget allows.</summary>
    [Range(1, 1000)]
    public int ConnectionsPerTenant { get; set; } = 10;

    /// <summary>Most tenant pools kept open at once; the least recently used beyond this is closed.</summary>
    [Range(1, 10_000)]
    public int MaxOpenPools { get; set; } = 50;
}

/// <summary>
/// One connection pool per tenant database, created on first use, bounded, and closed when the tenant leaves the
/// settings (or its settings change, or it is the least recently used beyond <see cref="TenantDatabaseOptions.MaxOpenPools"/>).
/// Pools are keyed by tenant id, never held by a tenant-bound singleton service. A tenant's pool size is its fair
/// share of the total budget, so the sum over open pools never exceeds it.
/// </summary>
public sealed partial class TenantDatabases : IAsyncDisposable
{
    private readonly ConcurrentDictionary<TenantId, Pool> _pools = new();
    private readonly ITenantSettingsStore _settings;
    private readonly TenantDatabaseOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TenantDatabases> _logger;
    private readonly Lock _gate = new();

    public TenantDatabases(ITenantSettingsStore settings, IOptions<TenantDatabaseOptions> options, TimeProvider time, ILogger<TenantDatabases> logger)
    {
        _settings = settings;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _settings.Changed += OnSettingsChanged;
    }

    /// <summary>Pools open now (for tests and metrics).</summary>
    public int OpenPools => _pools.Count;

    public bool IsOpen(TenantId tenant) => _pools.ContainsKey(tenant);

    /// <summary>The data source of <paramref name="tenant"/>'s database; throws <see cref="TenantNotFoundException"/> for an unknown tenant.</summary>
    public NpgsqlDataSource For(TenantId tenant)
    {
        var settings = _settings.Get(tenant);
        if (_pools.TryGetValue(tenant, out var existing) && existing.Settings == settings)
        {
            existing.LastUsed = _time.GetTimestamp();
            return existing.DataSource;
        }
        lock (_gate)
        {
            if (_pools.TryGetValue(tenant, out existing))
            {
                if (existing.Settings == settings)
                {
                    existing.LastUsed = _time.GetTimestamp();
                    return existing.DataSource;
                }
                Close(tenant, "its settings changed");
            }
            while (_pools.Count >= _options.MaxOpenPools)
            {
                var oldest = _pools.OrderBy(p => p.Value.LastUsed).First().Key;
                Close(oldest, "least recently used");
            }
            var builder = new NpgsqlConnectionStringBuilder(settings.ConnectionString)
            {
                MaxPoolSize = PoolSize(),
                // A pool shrinks back when its tenant goes quiet, returning connections to the shared budget.
                ConnectionIdleLifetime = 60,
                ApplicationName = $"workers/{tenant}",
                // A tenant whose database is down should give its worker slot back quickly, not hold it for 15 s.
                Timeout = 5,
            };
            var pool = new Pool(settings, new NpgsqlDataSourceBuilder(builder.ConnectionString).Build()) { LastUsed = _time.GetTimestamp() };
            _pools[tenant] = pool;
            Log.Opened(_logger, tenant.Value, builder.MaxPoolSize);
            return pool.DataSource;
        }
    }

    private int PoolSize() => Math.Max(1, Math.Min(_options.ConnectionsPerTenant, _options.TotalConnections / _options.MaxOpenPools));

    private void OnSettingsChanged(object? sender, TenantSettingsChangedEventArgs e)
    {
        lock (_gate)
        {
            foreach (var tenant in e.Removed)
            {
                Close(tenant, "it left the tenant settings");
            }
            foreach (var tenant in e.Changed)
            {
                Close(tenant, "its settings changed");
            }
        }
    }

    private void Close(TenantId tenant, string reason)
    {
        if (_pools.TryRemove(tenant, out var pool))
        {
            Log.Closed(_logger, tenant.Value, reason);
            // Jobs still holding a connection finish on it; disposing the data source closes idle ones now.
            _ = pool.DataSource.DisposeAsync().AsTask();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _settings.Changed -= OnSettingsChanged;
        foreach (var tenant in _pools.Keys.ToList())
        {
            if (_pools.TryRemove(tenant, out var pool))
            {
                await pool.DataSource.DisposeAsync();
            }
        }
    }

    private sealed class Pool(TenantSettings settings, NpgsqlDataSource dataSource)
    {
        public TenantSettings Settings { get; } = settings;
        public NpgsqlDataSource DataSource { get; } = dataSource;
        public long LastUsed { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Opened the database pool of tenant {Tenant} (max {Size} connections)")]
        public static partial void Opened(ILogger logger, string tenant, int size);

        [LoggerMessage(2, LogLevel.Information, "Closed the database pool of tenant {Tenant}: {Reason}")]
        public static partial void Closed(ILogger logger, string tenant, string reason);
    }
}

/// <summary>
/// The job's tenant database, for the job's DI scope. The first use in a scope checks the tenant marker: a database
/// that names another tenant (or none) fails the job before anything is written.
/// </summary>
public sealed class JobDatabase(TenantDatabases databases, ICurrentTenant currentTenant, SingleTenantDataSource singleTenant) : IAsyncDisposable
{
    private TenantDbContext? _context;

    /// <summary>The data source of the current job's tenant (or the single-tenant database).</summary>
    public NpgsqlDataSource DataSource => currentTenant.Id is { } tenant ? databases.For(tenant) : singleTenant.DataSource
        ?? throw new InvalidOperationException("No database: a tenantless job in multi-tenant mode cannot touch a database.");

    /// <summary>A context on the job's tenant database whose tenant marker has been verified.</summary>
    public async Task<TenantDbContext> ContextAsync(CancellationToken cancellationToken)
    {
        if (_context is not null)
        {
            return _context;
        }
        var context = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(DataSource).Options);
        if (currentTenant.Id is { } tenant)
        {
            await TenantMarkerCheck.EnsureBelongsToAsync(context, tenant.Value, cancellationToken);
        }
        return _context = context;
    }

    public async ValueTask DisposeAsync()
    {
        if (_context is not null)
        {
            await _context.DisposeAsync();
        }
    }
}

/// <summary>The one database of a single-tenant deployment (null in multi-tenant mode).</summary>
public sealed class SingleTenantDataSource(NpgsqlDataSource? dataSource)
{
    public NpgsqlDataSource? DataSource { get; } = dataSource;
}
