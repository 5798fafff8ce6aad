using System.Text;
using Domain.Model;
using Microsoft.EntityFrameworkCore;

namespace Domain.Infrastructure;

/// <summary>
/// One tenant's database. Each tenant has its own database, so no row carries a tenant id; the
/// <see cref="TenantMarker"/> row names the tenant the whole database belongs to.
/// </summary>
/// <remarks>
/// Add a migration with (from the repository root, after <c>dotnet tool restore</c>):
/// <c>dotnet ef migrations add &lt;Name&gt; --project Domain --startup-project Domain --output-dir Infrastructure/Migrations</c>.
/// Apply with <see cref="TenantDatabaseMigrator"/>, never by racing replicas.
/// </remarks>
public sealed class TenantDbContext(DbContextOptions<TenantDbContext> options) : DbContext(options)
{
    public DbSet<TenantMarker> TenantMarker => Set<TenantMarker>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<TestCase> TestCases => Set<TestCase>();
    public DbSet<TestRun> TestRuns => Set<TestRun>();
    public DbSet<TestResult> TestResults => Set<TestResult>();
    public DbSet<User> Users => Set<User>();
    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();
    public DbSet<Notification> Notifications => Set<Notification>();
    public DbSet<TrackerIntegration> TrackerIntegrations => Set<TrackerIntegration>();
    public DbSet<ExternalIssue> ExternalIssues => Set<ExternalIssue>();
    public DbSet<Import> Imports => Set<Import>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<OutboxJob> OutboxJobs => Set<OutboxJob>();
    public DbSet<SignInThrottle> SignInThrottles => Set<SignInThrottle>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(TenantDbContext).Assembly);

        // snake_case columns, keys and indexes: the set-based SQL of the workers reads naturally against them.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }
        }
    }

    internal static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1]))))
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }
}
