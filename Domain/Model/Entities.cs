namespace Domain.Model;

/// <summary>The single row that names the tenant a database belongs to; checked before any job writes.</summary>
public sealed class TenantMarker
{
    public const int SingletonId = 1;

    public int Id { get; set; } = SingletonId;
    public required string TenantId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class Project
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<TestCase> Cases { get; } = [];
    public List<TestRun> Runs { get; } = [];
}

public sealed class TestCase
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public Project? Project { get; set; }
    public required string Title { get; set; }
    public string? Description { get; set; }
    /// <summary>Where the case came from when it was imported (for example a Testmo case id), so a re-import can recognise it.</summary>
    public string? ExternalRef { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Expected duration computed by the forecast worker from recent results; null until first computed.</summary>
    public long? ForecastDurationMs { get; set; }
    public DateTimeOffset? ForecastComputedAt { get; set; }
    public List<ExternalIssue> Issues { get; } = [];
}

public sealed class TestRun
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public Project? Project { get; set; }
    public required string Name { get; set; }
    public string? ExternalRef { get; set; }
    public long? CreatedById { get; set; }
    public User? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<TestResult> Results { get; } = [];
}

[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<TestResultStatus>))]
public enum TestResultStatus
{
    Passed,
    Failed,
    Blocked,
    Skipped,
    Retest,
}

public sealed class TestResult
{
    public long Id { get; set; }
    public long RunId { get; set; }
    public TestRun? Run { get; set; }
    public long CaseId { get; set; }
    public TestCase? Case { get; set; }
    public TestResultStatus Status { get; set; }
    public long? ElapsedMs { get; set; }
    public string? Comment { get; set; }
    public long? ExecutedById { get; set; }
    public User? ExecutedBy { get; set; }
    public DateTimeOffset ExecutedAt { get; set; }
}

[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<EmailPreference>))]
public enum EmailPreference
{
    /// <summary>An email for every notification, as it happens.</summary>
    Immediate,
    /// <summary>One email a day with the unread notifications of the last day.</summary>
    DailyDigest,
    /// <summary>In-app notifications only.</summary>
    None,
}

public sealed class User
{
    public long Id { get; set; }
    public required string Email { get; set; }
    public required string Name { get; set; }
    /// <summary>ASP.NET Core Identity's PBKDF2 format; null for users who cannot sign in.</summary>
    public string? PasswordHash { get; set; }
    public bool IsAdmin { get; set; }
    public EmailPreference EmailPreference { get; set; } = EmailPreference.Immediate;
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The stored form of an email address: trimmed and lower-case, so lookups and uniqueness ignore case.</summary>
    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();
}

/// <summary>A bearer token for the API. Only a hash of the token is stored; the token is shown once at creation.</summary>
public sealed class ApiToken
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public User? User { get; set; }
    public required string Name { get; set; }
    public required byte[] TokenHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

public sealed class Notification
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public User? User { get; set; }
    public required string Kind { get; set; }
    public required string Text { get; set; }
    /// <summary>Path inside the tenant's web app (for example <c>/runs/12</c>); absolute links are built from the tenant's base URL.</summary>
    public string? Link { get; set; }
    public bool IsRead { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The job that created it, so a retried job does not notify twice.</summary>
    public string? SourceJobId { get; set; }

    /// <summary>When the notification was included in an email (immediate or digest), so it is sent once.</summary>
    public DateTimeOffset? EmailedAt { get; set; }
}

[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<TrackerKind>))]
public enum TrackerKind
{
    Jira,
}

/// <summary>A project's connection to an external issue tracker.</summary>
public sealed class TrackerIntegration
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public Project? Project { get; set; }
    public TrackerKind Kind { get; set; } = TrackerKind.Jira;
    public required string BaseUrl { get; set; }
    /// <summary>The tracker's project key whose issues a project sync reads (for Jira: the JQL project).</summary>
    public required string ProjectKey { get; set; }
    public string? Username { get; set; }
    public string? ApiToken { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastSyncedAt { get; set; }
}

public sealed class ExternalIssue
{
    public long Id { get; set; }
    public long IntegrationId { get; set; }
    public TrackerIntegration? Integration { get; set; }
    public required string Key { get; set; }
    public string? Title { get; set; }
    public string? Status { get; set; }
    public string? Url { get; set; }
    public DateTimeOffset? LastSyncedAt { get; set; }
    /// <summary>The tracker's last error for this issue (for example 404), kept so the UI can show why it is stale.</summary>
    public string? SyncError { get; set; }
    public List<TestCase> Cases { get; } = [];
}

[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ImportStatus>))]
public enum ImportStatus
{
    Pending,
    Running,
    Completed,
    Failed,
}

/// <summary>A Testmo export uploaded for import. The file itself is a PostgreSQL large object, streamed by the worker.</summary>
public sealed class Import
{
    public long Id { get; set; }
    public required string FileName { get; set; }
    public long SizeBytes { get; set; }
    /// <summary>OID of the large object holding the upload; removed once the import ends.</summary>
    public uint? UploadOid { get; set; }
    public ImportStatus Status { get; set; }
    /// <summary>Percent done, 0 to 100.</summary>
    public int Progress { get; set; }
    public long? ProjectId { get; set; }
    public Project? Project { get; set; }
    public int CasesImported { get; set; }
    public int RunsImported { get; set; }
    public int ResultsImported { get; set; }
    public string? Error { get; set; }
    public long? CreatedById { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

/// <summary>
/// Failed sign-ins of one subject: an account (<c>account:</c> + the normalised email, whether or not such a user
/// exists, so a lockout reveals nothing about which emails are users) or a client address (<c>address:</c> + the
/// address). Kept in the tenant database so that every replica of the tenant's web app counts and honours the same
/// lockout. A row goes away on a successful sign-in (accounts), an administrator's unlock, or when it has been quiet
/// long enough to be forgotten.
/// </summary>
public sealed class SignInThrottle
{
    public const string AccountPrefix = "account:";
    public const string AddressPrefix = "address:";

    public required string Subject { get; set; }

    /// <summary>Failed attempts counted since the last success, unlock or forgetting.</summary>
    public int Failures { get; set; }

    public DateTimeOffset LastFailureAt { get; set; }

    /// <summary>Until when every attempt is refused, the right password included; null or past when not locked.</summary>
    public DateTimeOffset? LockedUntil { get; set; }

    public static string AccountSubject(string email) => AccountPrefix + User.NormalizeEmail(email);

    public static string AddressSubject(string address) => AddressPrefix + address;
}

/// <summary>An ASP.NET Core data-protection key of the tenant's web app, shared by its replicas through the tenant database.</summary>
public sealed class DataProtectionKey
{
    public long Id { get; set; }
    public string? FriendlyName { get; set; }
    public required string Xml { get; set; }
}

/// <summary>
/// A job written in the same transaction as the data it accompanies (the transactional outbox, rule 8). The web app
/// relays rows to the queue in <see cref="Id"/> order and deletes them once enqueued; <see cref="JobId"/> is fixed at
/// write time, so a relay repeated after a crash adds nothing (the queue deduplicates ids per queue and tenant).
/// </summary>
public sealed class OutboxJob
{
    public long Id { get; set; }
    public required string Queue { get; set; }
    public required string JobName { get; set; }
    public required string JobId { get; set; }
    public required string Payload { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The W3C traceparent of the span that wrote the row, so the job continues that trace whoever relays it.</summary>
    public string? TraceParent { get; set; }
}
