using System.ComponentModel.DataAnnotations;

namespace Queue;

/// <summary>The defaults of the queue options, in one place.</summary>
public static class JobQueueDefaults
{
    public const string KeyPrefix = "aq";
    public const int MaxPayloadBytes = 256 * 1024;
    public const int MaxAttempts = 3;
    public const int MaxStalls = 1;
    public const string LeaseDuration = "00:00:30";
    public const string BackoffDelay = "00:00:01";
    public const string MaxBackoffDelay = "01:00:00";
    public const int CompletedKeepCount = 1000;
    public const string CompletedMaxAge = "1.00:00:00";
    public const int FailedKeepCount = 10_000;
    public const string FailedMaxAge = "7.00:00:00";
    public const string ShutdownTimeout = "00:00:30";
    public const string SafetyPollInterval = "00:00:05";
    public const string HeartbeatInterval = "00:00:10";
    public const int CircuitThreshold = 3;
    public const string FirstProbeInterval = "00:00:01";
    public const string MaxProbeInterval = "00:00:15";
    public const int Shards = 1;
    public const int WaitForReplicas = 0;
    public const string ReplicaWaitTimeout = "00:00:01";
    public const long MaxWaitingPerTenant = 100_000;
}

/// <summary>Options shared by the client and the server: where the queue lives and what a job may carry.</summary>
public sealed class JobQueueOptions
{
    /// <summary>
    /// StackExchange.Redis configuration (<c>host:port,password=...</c>) or a <c>valkey://</c>/<c>redis://</c> URL.
    /// When unset, <c>ConnectionStrings:valkey</c> and then <c>VALKEY_URL</c> are read from configuration.
    /// </summary>
    [Required(ErrorMessage = "No Valkey connection configured: set ConnectionStrings__valkey or VALKEY_URL.")]
    public string? ConnectionString { get; set; }

    /// <summary>First segment of every key; lets several deployments share one Valkey.</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9_.-]{1,32}$")]
    public string KeyPrefix { get; set; } = JobQueueDefaults.KeyPrefix;

    /// <summary>
    /// How many shards every queue is split into (KEYS.md): each a complete queue under its own hash tag, so a Valkey
    /// Cluster spreads them over its masters; a tenant belongs to one. Every client and worker of a deployment must use
    /// the same value (<c>QUEUE_SHARDS</c>); a worker refuses to start against data laid out with another.
    /// </summary>
    [Range(1, 1024)]
    public int Shards { get; set; } = JobQueueDefaults.Shards;

    /// <summary>
    /// Replicas that must have a write before the engine relies on it (<c>QUEUE_WAIT_FOR_REPLICAS</c>; 0, the default,
    /// for a deployment without replicas): an enqueue is acknowledged only once that many replicas have the job (else
    /// <see cref="Storage.JobQueueNotReplicatedException"/>), a fetch starts its jobs only after its lease is replicated,
    /// and outcomes are replicated before the worker moves on, so a failover neither loses an acknowledged job nor
    /// hands a running or finished job to another worker. Valkey's <c>WAIT</c>.
    /// </summary>
    [Range(0, 16)]
    public int WaitForReplicas { get; set; } = JobQueueDefaults.WaitForReplicas;

    /// <summary>How long a write waits for <see cref="WaitForReplicas"/> replicas.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan ReplicaWaitTimeout { get; set; } = TimeSpan.Parse(JobQueueDefaults.ReplicaWaitTimeout, null);

    /// <summary>Largest payload accepted at enqueue, in UTF-8 bytes.</summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = JobQueueDefaults.MaxPayloadBytes;

    /// <summary>
    /// Encrypts every job's payload at rest with its tenant's key (AES-GCM, the job's identity as associated data), so
    /// Valkey's append-only file, a backup or a reader of the workers' Valkey user sees no tenant's data in the clear
    /// (<c>QUEUE_ENCRYPT_PAYLOADS</c>, on by default). Jobs stored in the clear (before it was on) still run.
    /// </summary>
    public bool EncryptPayloads { get; set; } = true;

    /// <summary>
    /// Signs jobs enqueued without a tenant in a single-tenant deployment. When unset those jobs are stored unsigned;
    /// a server that has it set refuses unsigned tenantless jobs. Tenant jobs always use the tenant's own signing key.
    /// </summary>
    public string? SingleTenantSigningKey { get; set; }
}

/// <summary>How the delay before a retry grows.</summary>
public enum BackoffKind
{
    /// <summary><see cref="QueueOptions.BackoffDelay"/> times 2^(attempt-1), capped by <see cref="QueueOptions.MaxBackoffDelay"/>.</summary>
    Exponential,

    /// <summary>Always <see cref="QueueOptions.BackoffDelay"/>.</summary>
    Fixed,
}

/// <summary>How a server processes one queue. Named options: the name is the queue's.</summary>
public sealed class QueueOptions
{
    /// <summary>Jobs of this queue this worker runs at once.</summary>
    [Range(1, 1024)]
    public int Concurrency { get; set; } = 1;

    /// <summary>
    /// Most jobs of one tenant running at once on this queue, counted over all workers; 0 means no cap beyond
    /// <see cref="Concurrency"/>. Round-robin fetching keeps tenants fair either way; the cap also bounds how much of the
    /// workers one tenant's slow jobs can hold.
    /// </summary>
    [Range(0, 1024)]
    public int PerTenantConcurrency { get; set; }

    /// <summary>
    /// Jobs leased ahead of free workers, so that one round trip fetches a batch. <see cref="AutoPrefetch"/> (the default):
    /// up to <see cref="AutoPrefetchFactor"/> times <see cref="Concurrency"/> while this queue's recent jobs ran in under a
    /// millisecond on average (a job fetched ahead then waits here about as long as four runs: a few milliseconds at
    /// most), none once they are slower, where a job fetched ahead would wait here while another worker could run it.
    /// A number from 0 fixes it.
    /// </summary>
    [Range(AutoPrefetch, 4096)]
    public int Prefetch { get; set; } = AutoPrefetch;

    /// <summary>The <see cref="Prefetch"/> value that lets the worker choose from how long the queue's jobs run.</summary>
    public const int AutoPrefetch = -1;

    /// <summary>
    /// How many times <see cref="Concurrency"/> automatic prefetch leases ahead while jobs are short. Four, measured:
    /// against twice, the drain of sub-millisecond jobs is about 30% faster with a fifth fewer Valkey commands per job
    /// (fuller fetch and finish batches); eight adds little more (bench/QueueBench with PREFETCH=32/64/128, C=16).
    /// </summary>
    public const int AutoPrefetchFactor = 4;

    /// <summary>How long a fetched job stays leased without renewal; the worker renews at a third of it.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.Parse(JobQueueDefaults.LeaseDuration, null);

    /// <summary>Times a job may lose its lease (worker crashed or hung) and be run again before it is failed.</summary>
    [Range(0, 100)]
    public int MaxStalls { get; set; } = JobQueueDefaults.MaxStalls;

    /// <summary>Attempts of a job that does not set its own.</summary>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = JobQueueDefaults.MaxAttempts;

    public BackoffKind Backoff { get; set; } = BackoffKind.Exponential;

    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan BackoffDelay { get; set; } = TimeSpan.Parse(JobQueueDefaults.BackoffDelay, null);

    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan MaxBackoffDelay { get; set; } = TimeSpan.Parse(JobQueueDefaults.MaxBackoffDelay, null);

    /// <summary>Randomises exponential delays to between half and all of the computed value, so retries spread out.</summary>
    public bool BackoffJitter { get; set; } = true;

    /// <summary>Completed jobs kept per tenant (newest first); -1 keeps all.</summary>
    [Range(-1, int.MaxValue)]
    public int CompletedKeepCount { get; set; } = JobQueueDefaults.CompletedKeepCount;

    /// <summary>Completed jobs older than this are removed; zero keeps them regardless of age.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan CompletedMaxAge { get; set; } = TimeSpan.Parse(JobQueueDefaults.CompletedMaxAge, null);

    /// <summary>Failed jobs kept per tenant (newest first); -1 keeps all.</summary>
    [Range(-1, int.MaxValue)]
    public int FailedKeepCount { get; set; } = JobQueueDefaults.FailedKeepCount;

    /// <summary>Failed jobs older than this are removed; zero keeps them regardless of age.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan FailedMaxAge { get; set; } = TimeSpan.Parse(JobQueueDefaults.FailedMaxAge, null);
}

/// <summary>Options of one server (one worker process) across its queues.</summary>
public sealed class JobQueueServerOptions
{
    /// <summary>Identifies this worker in the concurrency report; defaults to machine name, process id and a random suffix.</summary>
    [RegularExpression(@"^[^|\s]{1,200}$", ErrorMessage = "WorkerId must be 1 to 200 characters without '|' or white space (it goes into lease tokens).")]
    public string? WorkerId { get; set; }

    /// <summary>How long shutdown waits for running jobs before it cancels them and hands them back.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.Parse(JobQueueDefaults.ShutdownTimeout, null);

    /// <summary>Longest an idle worker sleeps without a wake-up message, in case one was lost.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan SafetyPollInterval { get; set; } = TimeSpan.Parse(JobQueueDefaults.SafetyPollInterval, null);

    /// <summary>How often the worker reports its concurrency (expiring after three intervals) and, if it is the queue's reporter, the depths.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.Parse(JobQueueDefaults.HeartbeatInterval, null);

    /// <summary>
    /// Failures in a row of one tenant's jobs for one unreachable dependency (as <see cref="IDependencyFailureClassifier"/>
    /// tells) after which the tenant's jobs are held on every queue until a probe gets through.
    /// </summary>
    [Range(1, 1000)]
    public int CircuitThreshold { get; set; } = JobQueueDefaults.CircuitThreshold;

    /// <summary>The first wait before a held tenant is probed, and the first delay of a job whose dependency failed; doubles each time.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan FirstProbeInterval { get; set; } = TimeSpan.Parse(JobQueueDefaults.FirstProbeInterval, null);

    /// <summary>The longest wait between probes of a held tenant (and the longest dependency delay of a job).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan MaxProbeInterval { get; set; } = TimeSpan.Parse(JobQueueDefaults.MaxProbeInterval, null);

    /// <summary>
    /// The ceiling of one tenant's jobs waiting or delayed on one queue (<c>QUEUE_MAX_WAITING_PER_TENANT</c>): an enqueue
    /// that would pass it is refused with <see cref="Storage.JobQueueFullException"/>, so one tenant cannot grow the shared
    /// Valkey without bound. The workers record it in Valkey, where every client's enqueue reads it.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long MaxWaitingPerTenant { get; set; } = JobQueueDefaults.MaxWaitingPerTenant;
}
