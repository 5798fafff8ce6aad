using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Domain.Infrastructure.Configurations;

internal sealed class TenantMarkerConfiguration : IEntityTypeConfiguration<TenantMarker>
{
    public void Configure(EntityTypeBuilder<TenantMarker> builder)
    {
        builder.ToTable("tenant_marker", table => table.HasCheckConstraint("ck_tenant_marker_single_row", "id = 1"));
        builder.Property(m => m.Id).ValueGeneratedNever();
        builder.Property(m => m.TenantId).HasMaxLength(40);
    }
}

internal sealed class ProjectConfiguration : IEntityTypeConfiguration<Project>
{
    public void Configure(EntityTypeBuilder<Project> builder)
    {
        builder.ToTable("projects");
        builder.Property(p => p.Name).HasMaxLength(200);
        builder.HasIndex(p => p.Name).IsUnique();
    }
}

internal sealed class TestCaseConfiguration : IEntityTypeConfiguration<TestCase>
{
    public void Configure(EntityTypeBuilder<TestCase> builder)
    {
        builder.ToTable("test_cases");
        builder.Property(c => c.Title).HasMaxLength(500);
        builder.Property(c => c.ExternalRef).HasMaxLength(100);
        builder.HasOne(c => c.Project).WithMany(p => p.Cases).HasForeignKey(c => c.ProjectId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(c => new { c.ProjectId, c.Id });
        builder.HasIndex(c => new { c.ProjectId, c.ExternalRef }).IsUnique().HasFilter("external_ref IS NOT NULL");
        builder.HasMany(c => c.Issues).WithMany(i => i.Cases).UsingEntity(
            "test_case_issues",
            r => r.HasOne(typeof(ExternalIssue)).WithMany().HasForeignKey("issue_id").OnDelete(DeleteBehavior.Cascade),
            l => l.HasOne(typeof(TestCase)).WithMany().HasForeignKey("case_id").OnDelete(DeleteBehavior.Cascade),
            j => j.HasKey("case_id", "issue_id"));
    }
}

internal sealed class TestRunConfiguration : IEntityTypeConfiguration<TestRun>
{
    public void Configure(EntityTypeBuilder<TestRun> builder)
    {
        builder.ToTable("test_runs");
        builder.Property(r => r.Name).HasMaxLength(300);
        builder.Property(r => r.ExternalRef).HasMaxLength(100);
        builder.HasOne(r => r.Project).WithMany(p => p.Runs).HasForeignKey(r => r.ProjectId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne(r => r.CreatedBy).WithMany().HasForeignKey(r => r.CreatedById).OnDelete(DeleteBehavior.SetNull);
        builder.HasIndex(r => new { r.ProjectId, r.ExternalRef }).IsUnique().HasFilter("external_ref IS NOT NULL");
    }
}

internal sealed class TestResultConfiguration : IEntityTypeConfiguration<TestResult>
{
    public void Configure(EntityTypeBuilder<TestResult> builder)
    {
        builder.ToTable("test_results", table => table.HasCheckConstraint("ck_test_results_elapsed", "elapsed_ms IS NULL OR elapsed_ms >= 0"));
        builder.Property(r => r.Status).HasConversion<string>().HasMaxLength(20);
        builder.HasOne(r => r.Run).WithMany(r => r.Results).HasForeignKey(r => r.RunId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne(r => r.Case).WithMany().HasForeignKey(r => r.CaseId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne(r => r.ExecutedBy).WithMany().HasForeignKey(r => r.ExecutedById).OnDelete(DeleteBehavior.SetNull);
        // Only the user's SET NULL on delete looks results up by executor, always for a value. Imported results have
        // none: indexing their NULLs cost an import of 2 M results about 3 s for nothing.
        builder.HasIndex(r => r.ExecutedById).HasFilter("executed_by_id IS NOT NULL");
        // The forecast reads a case's most recent results: this index serves it without a sort.
        builder.HasIndex(r => new { r.CaseId, r.ExecutedAt }).IsDescending(false, true);
        // A run's results are read a page at a time in id order; this index serves the page and the run's total
        // (and stands in for the foreign key's own index on run_id).
        builder.HasIndex(r => new { r.RunId, r.Id });
    }
}

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> builder)
    {
        builder.ToTable("users");
        builder.Property(u => u.Email).HasMaxLength(320);
        builder.Property(u => u.Name).HasMaxLength(200);
        builder.Property(u => u.EmailPreference).HasConversion<string>().HasMaxLength(20);
        // Emails are stored normalised (User.NormalizeEmail), so one account per address however it is typed.
        builder.HasIndex(u => u.Email).IsUnique();
    }
}

internal sealed class ApiTokenConfiguration : IEntityTypeConfiguration<ApiToken>
{
    public void Configure(EntityTypeBuilder<ApiToken> builder)
    {
        builder.ToTable("api_tokens");
        builder.Property(t => t.Name).HasMaxLength(200);
        builder.HasIndex(t => t.TokenHash).IsUnique();
        builder.HasOne(t => t.User).WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class NotificationConfiguration : IEntityTypeConfiguration<Notification>
{
    public void Configure(EntityTypeBuilder<Notification> builder)
    {
        builder.ToTable("notifications");
        builder.Property(n => n.Kind).HasMaxLength(50);
        builder.Property(n => n.Text).HasMaxLength(2000);
        builder.Property(n => n.Link).HasMaxLength(500);
        builder.HasOne(n => n.User).WithMany().HasForeignKey(n => n.UserId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(n => new { n.UserId, n.IsRead, n.CreatedAt });
        builder.Property(n => n.SourceJobId).HasMaxLength(300);
        builder.HasIndex(n => new { n.SourceJobId, n.UserId }).IsUnique().HasFilter("source_job_id IS NOT NULL");
    }
}

internal sealed class TrackerIntegrationConfiguration : IEntityTypeConfiguration<TrackerIntegration>
{
    public void Configure(EntityTypeBuilder<TrackerIntegration> builder)
    {
        builder.ToTable("tracker_integrations");
        builder.Property(t => t.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(t => t.BaseUrl).HasMaxLength(500);
        builder.Property(t => t.ProjectKey).HasMaxLength(100);
        builder.Property(t => t.Username).HasMaxLength(200);
        builder.Property(t => t.ApiToken).HasMaxLength(500);
        builder.HasOne(t => t.Project).WithMany().HasForeignKey(t => t.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ExternalIssueConfiguration : IEntityTypeConfiguration<ExternalIssue>
{
    public void Configure(EntityTypeBuilder<ExternalIssue> builder)
    {
        builder.ToTable("external_issues");
        builder.Property(i => i.Key).HasMaxLength(100);
        builder.Property(i => i.Title).HasMaxLength(1000);
        builder.Property(i => i.Status).HasMaxLength(100);
        builder.Property(i => i.Url).HasMaxLength(1000);
        builder.Property(i => i.SyncError).HasMaxLength(1000);
        builder.HasOne(i => i.Integration).WithMany().HasForeignKey(i => i.IntegrationId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(i => new { i.IntegrationId, i.Key }).IsUnique();
    }
}

internal sealed class ImportConfiguration : IEntityTypeConfiguration<Import>
{
    public void Configure(EntityTypeBuilder<Import> builder)
    {
        builder.ToTable("imports", table => table.HasCheckConstraint("ck_imports_progress", "progress BETWEEN 0 AND 100"));
        builder.Property(i => i.FileName).HasMaxLength(500);
        builder.Property(i => i.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(i => i.Error).HasMaxLength(4000);
        builder.HasOne(i => i.Project).WithMany().HasForeignKey(i => i.ProjectId).OnDelete(DeleteBehavior.SetNull);
    }
}

internal sealed class SignInThrottleConfiguration : IEntityTypeConfiguration<SignInThrottle>
{
    public void Configure(EntityTypeBuilder<SignInThrottle> builder)
    {
        builder.ToTable("sign_in_throttles");
        builder.HasKey(t => t.Subject);
        // "address:" + an IPv6 address is at most 53 characters; "account:" + an email at most 328.
        builder.Property(t => t.Subject).HasMaxLength(400);
        // Forgetting quiet rows reads them oldest first.
        builder.HasIndex(t => t.LastFailureAt);
    }
}

internal sealed class DataProtectionKeyConfiguration : IEntityTypeConfiguration<DataProtectionKey>
{
    public void Configure(EntityTypeBuilder<DataProtectionKey> builder) => builder.ToTable("data_protection_keys");
}

internal sealed class OutboxJobConfiguration : IEntityTypeConfiguration<OutboxJob>
{
    public void Configure(EntityTypeBuilder<OutboxJob> builder)
    {
        builder.ToTable("job_outbox");
        builder.Property(j => j.Queue).HasMaxLength(100);
        builder.Property(j => j.JobName).HasMaxLength(100);
        builder.Property(j => j.JobId).HasMaxLength(200);
        builder.Property(j => j.TraceParent).HasMaxLength(128);
    }
}
