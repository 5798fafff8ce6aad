using Domain.Infrastructure;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tests.Infrastructure;
using Tests.Tenancy;

namespace Tests.Domain;

public sealed class TenantDatabaseTests(TestServers servers)
{
    [Fact]
    public void Migrations_cover_the_whole_model()
    {
        using var db = Context("Host=localhost;Database=unused");

        Assert.False(db.Database.HasPendingModelChanges(), "The model has changes no migration covers: add a migration (see TenantDbContext's remarks).");
    }

    [Fact]
    public async Task Migrating_creates_the_schema_and_stamps_the_tenant()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("migrate");

        await MigrateAsync(database.ConnectionString, "tenant-a");

        await using var db = Context(database.ConnectionString);
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Equal("tenant-a", (await db.TenantMarker.SingleAsync()).TenantId);
        await TenantMarkerCheck.EnsureBelongsToAsync(db, "tenant-a");
    }

    [Fact]
    public async Task Migrating_a_new_database_and_starting_again_log_nothing_at_warning_or_above()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("quiet");
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));

        // A first start (no history table yet), then a later one, as a web app does on every start.
        foreach (var start in new[] { "first", "later" })
        {
            await using var db = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>()
                .UseNpgsql(database.ConnectionString)
                .UseLoggerFactory(loggerFactory)
                .Options);
            await new TenantDatabaseMigrator(db, TimeProvider.System, loggerFactory.CreateLogger<TenantDatabaseMigrator>()).MigrateAsync("tenant-a");
        }

        Assert.Contains(logs.Entries, e => e.Message.StartsWith("Applying migration", StringComparison.Ordinal));
        Assert.Empty(logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Level} {e.Category}: {e.Message}"));
    }

    [Fact]
    public async Task Replicas_migrating_at_once_apply_each_migration_once()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("race");

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => MigrateAsync(database.ConnectionString, "tenant-a"))));

        await using var db = Context(database.ConnectionString);
        var applied = await db.Database.GetAppliedMigrationsAsync();
        Assert.Equal(db.Database.GetMigrations(), applied);
        Assert.Equal(1, await db.TenantMarker.CountAsync());
    }

    [Fact]
    public async Task Migrating_a_database_that_belongs_to_another_tenant_is_refused()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("mismatch");
        await MigrateAsync(database.ConnectionString, "tenant-a");

        var error = await Assert.ThrowsAsync<TenantDatabaseMismatchException>(() => MigrateAsync(database.ConnectionString, "tenant-b"));

        Assert.Contains("'tenant-b'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'tenant-a'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Marker_check_refuses_another_tenants_database_and_an_unmarked_one()
    {
        var postgres = await servers.PostgresAsync();
        await using var marked = await postgres.CreateDatabaseAsync("marked");
        await using var unmarked = await postgres.CreateDatabaseAsync("unmarked");
        await MigrateAsync(marked.ConnectionString, "tenant-a");
        await MigrateAsync(unmarked.ConnectionString, tenantId: null);

        await using var markedDb = Context(marked.ConnectionString);
        await using var unmarkedDb = Context(unmarked.ConnectionString);

        var wrongTenant = await Assert.ThrowsAsync<TenantDatabaseMismatchException>(() => TenantMarkerCheck.EnsureBelongsToAsync(markedDb, "tenant-b"));
        var noMarker = await Assert.ThrowsAsync<TenantDatabaseMismatchException>(() => TenantMarkerCheck.EnsureBelongsToAsync(unmarkedDb, "tenant-b"));
        Assert.Equal("tenant-a", wrongTenant.ActualTenant);
        Assert.Null(noMarker.ActualTenant);
    }

    [Fact]
    public async Task The_marker_table_holds_at_most_one_row()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("single");
        await MigrateAsync(database.ConnectionString, "tenant-a");
        await using var db = Context(database.ConnectionString);

        db.TenantMarker.Add(new TenantMarker { Id = 2, TenantId = "tenant-b" });

        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
    }

    [Fact]
    public async Task Emails_are_unique_whatever_their_case_once_normalised()
    {
        var postgres = await servers.PostgresAsync();
        await using var database = await postgres.CreateDatabaseAsync("emails");
        await MigrateAsync(database.ConnectionString, "tenant-a");
        await using var db = Context(database.ConnectionString);

        db.Users.Add(new User { Email = User.NormalizeEmail("Ada@Example.test"), Name = "Ada" });
        await db.SaveChangesAsync();
        db.Users.Add(new User { Email = User.NormalizeEmail(" ada@example.TEST "), Name = "Ada again" });

        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
    }

    private static async Task MigrateAsync(string connectionString, string? tenantId)
    {
        await using var db = Context(connectionString);
        await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync(tenantId);
    }

    private static TenantDbContext Context(string connectionString) =>
        new(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(connectionString).Options);
}
