using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Domain.Infrastructure;

/// <summary>
/// Brings a tenant database to the current schema and stamps its tenant marker. Safe when several replicas
/// start together: they serialise on a PostgreSQL advisory lock, so one migrates and the others find nothing to do.
/// </summary>
public sealed partial class TenantDatabaseMigrator(TenantDbContext db, TimeProvider time, ILogger<TenantDatabaseMigrator> logger)
{
    // Any fixed 64-bit key, unique to this purpose within the database.
    private const long MigrationLockKey = 0x5445_4E41_4E54_4D47; // "TENANTMG"

    /// <summary>
    /// Applies pending migrations, then makes sure the marker names <paramref name="tenantId"/> (when given).
    /// Throws <see cref="TenantDatabaseMismatchException"/> when the database already belongs to another tenant.
    /// </summary>
    public Task<TenantDatabaseMigration> MigrateAsync(string? tenantId, CancellationToken cancellationToken = default) =>
        MigrateAsync(tenantId, searchLanguage: null, cancellationToken);

    /// <summary>
    /// As <see cref="MigrateAsync(string?, CancellationToken)"/>, then sets the text search configuration of the
    /// database's full-text search to <paramref name="searchLanguage"/> (when given): a change rebuilds every search
    /// vector in one transaction, writers waiting meanwhile; the same language again costs one read.
    /// </summary>
    /// <returns>What it changed: nothing at all when the database was already at the current schema, marker and language.</returns>
    public async Task<TenantDatabaseMigration> MigrateAsync(string? tenantId, string? searchLanguage, CancellationToken cancellationToken = default)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await ExecuteAsync("SELECT pg_advisory_lock(@key)", cancellationToken);
            try
            {
                // Npgsql's history repository reports its table as always present and lets the first read of it fail on
                // a new database (caught, but logged by EF at Error as "Failed executing DbCommand", once here and once
                // more inside MigrateAsync). Creating the table first (IF NOT EXISTS, under the lock above) leaves
                // nothing to fail, so a real failed command still stands out.
                await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
                var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
                if (pending.Count > 0)
                {
                    Log.Applying(logger, pending.Count, string.Join(", ", pending));
                    await db.Database.MigrateAsync(cancellationToken);
                }
                var stamped = tenantId is not null && await StampMarkerAsync(tenantId, cancellationToken);
                var languageChanged = searchLanguage is not null && await SetSearchLanguageAsync(searchLanguage, cancellationToken);
                return new TenantDatabaseMigration(pending, stamped, languageChanged);
            }
            finally
            {
                await ExecuteAsync("SELECT pg_advisory_unlock(@key)", CancellationToken.None);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private async Task<bool> StampMarkerAsync(string tenantId, CancellationToken cancellationToken)
    {
        var marker = await db.TenantMarker.AsNoTracking().SingleOrDefaultAsync(cancellationToken);
        if (marker is null)
        {
            db.TenantMarker.Add(new TenantMarker { TenantId = tenantId, CreatedAt = time.GetUtcNow() });
            await db.SaveChangesAsync(cancellationToken);
            Log.Stamped(logger, tenantId);
            return true;
        }
        return marker.TenantId == tenantId ? false : throw new TenantDatabaseMismatchException(tenantId, marker.TenantId);
    }

    private async Task<bool> SetSearchLanguageAsync(string language, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var command = new NpgsqlCommand("SELECT search_set_language(@language::regconfig)", connection);
        command.Parameters.AddWithValue("language", language);
        // A large tenant's rebuild takes a while; it happens once per change, before the app serves.
        command.CommandTimeout = 0;
        if (!(bool)(await command.ExecuteScalarAsync(cancellationToken))!)
        {
            return false;
        }
        Log.SearchLanguageChanged(logger, language);
        return true;
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("key", MigrationLockKey);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Applying {Count} migration(s) to the tenant database: {Migrations}")]
        public static partial void Applying(ILogger logger, int count, string migrations);

        [LoggerMessage(2, LogLevel.Information, "Tenant database marked as belonging to tenant {TenantId}")]
        public static partial void Stamped(ILogger logger, string tenantId);

        [LoggerMessage(3, LogLevel.Information, "Full-text search now uses the text search configuration {Language}; search vectors rebuilt")]
        public static partial void SearchLanguageChanged(ILogger logger, string language);
    }
}

/// <summary>What one <see cref="TenantDatabaseMigrator.MigrateAsync(string?, string?, CancellationToken)"/> changed.</summary>
/// <param name="Applied">The migrations it applied, oldest first; empty when the schema was current.</param>
/// <param name="Stamped">Whether it wrote the tenant marker (a database new to its tenant).</param>
/// <param name="SearchLanguageChanged">Whether it switched the full-text search language (and rebuilt the vectors).</param>
public sealed record TenantDatabaseMigration(IReadOnlyList<string> Applied, bool Stamped, bool SearchLanguageChanged)
{
    /// <summary>Nothing changed: the database already was what this version of the code expects.</summary>
    public bool Unchanged => Applied.Count == 0 && !Stamped && !SearchLanguageChanged;
}

/// <summary>The tenant marker row; read before a job of a tenant touches a database.</summary>
public static class TenantMarkerCheck
{
    /// <summary>
    /// Throws <see cref="TenantDatabaseMismatchException"/> unless the database's marker names <paramref name="expectedTenant"/>.
    /// A database without a marker is refused too: it has not been set up for any tenant.
    /// </summary>
    public static async Task EnsureBelongsToAsync(TenantDbContext db, string expectedTenant, CancellationToken cancellationToken = default)
    {
        var actual = await db.TenantMarker.AsNoTracking().Select(m => m.TenantId).SingleOrDefaultAsync(cancellationToken);
        if (actual != expectedTenant)
        {
            throw new TenantDatabaseMismatchException(expectedTenant, actual);
        }
    }
}

/// <summary>A database that belongs to another tenant (or to none) was about to be used for a tenant.</summary>
public sealed class TenantDatabaseMismatchException : Exception
{
    public TenantDatabaseMismatchException(string expectedTenant, string? actualTenant)
        : base(actualTenant is null
            ? $"The database configured for tenant '{expectedTenant}' has no tenant marker; refusing to use it until it is migrated for that tenant."
            : $"The database configured for tenant '{expectedTenant}' belongs to tenant '{actualTenant}'; refusing to use it.")
    {
        ExpectedTenant = expectedTenant;
        ActualTenant = actualTenant;
    }

    public TenantDatabaseMismatchException() => ExpectedTenant = string.Empty;

    public TenantDatabaseMismatchException(string message) : base(message) => ExpectedTenant = string.Empty;

    public TenantDatabaseMismatchException(string message, Exception innerException) : base(message, innerException) => ExpectedTenant = string.Empty;

    public string ExpectedTenant { get; }

    public string? ActualTenant { get; }
}

/// <summary>Lets <c>dotnet ef</c> build the model at design time; it never connects.</summary>
internal sealed class DesignTimeTenantDbContextFactory : IDesignTimeDbContextFactory<TenantDbContext>
{
    public TenantDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<TenantDbContext>()
            .UseNpgsql("Host=localhost;Database=design_time")
            .Options);
}
