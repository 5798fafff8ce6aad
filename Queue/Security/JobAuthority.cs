using Microsoft.Extensions.Options;
using Queue.Storage;
using Tenancy;

namespace Queue.Security;

/// <summary>
/// Decides which tenant a job belongs to and with which key it is signed and checked (rules 1, 2 and 6 of tenancy).
/// A job carries the ambient tenant and is signed with that tenant's key. Without an ambient tenant a multi-tenant
/// deployment refuses the job; a single-tenant one stores it under <see cref="QueueLayout.NoTenant"/>, signed with
/// <see cref="JobQueueOptions.SingleTenantSigningKey"/> when that is set, unsigned otherwise.
/// </summary>
internal sealed class JobAuthority(ICurrentTenant current, ITenantSettingsStore tenants, IOptions<JobQueueOptions> options)
{
    private readonly JobSeal _seal = new();

    /// <summary>The tenant slot for a job enqueued or administered now; throws when multi-tenant code runs without a tenant.</summary>
    public string CurrentSlot(string action)
    {
        if (current.Id is { } tenant)
        {
            return tenant.Value;
        }
        return tenants.IsMultiTenant
            ? throw new InvalidOperationException(
                $"Cannot {action}: no tenant is current, and in multi-tenant mode every job must carry a tenant. " +
                "Run this inside the tenant's request or a TenantScope.Begin(tenant).")
            : QueueLayout.NoTenant;
    }

    /// <summary>
    /// The only tenant slot this process may take jobs from: a single-tenant deployment takes only tenantless jobs
    /// (rule 6), so a worker started without multi-tenant mode beside a shared Valkey can never fail tenants' jobs.
    /// Null in multi-tenant mode (every tenant).
    /// </summary>
    public string? OnlySlot => tenants.IsMultiTenant ? null : QueueLayout.NoTenant;

    public string Sign(string slot, string queue, string id, string name, string payload)
    {
        if (slot == QueueLayout.NoTenant)
        {
            return options.Value.SingleTenantSigningKey is { Length: > 0 } key ? JobSignature.Compute(key, queue, id, slot, name, payload) : "";
        }
        var settings = tenants.Get(TenantId.Parse(slot));
        if (string.IsNullOrEmpty(settings.SigningKey))
        {
            throw new InvalidOperationException(
                $"Cannot enqueue job '{name}' on queue '{queue}': tenant '{slot}' has no signing key configured " +
                $"(TENANT_{TenantId.Parse(slot).VariableForm}_SIGNING_KEY or signingKey in TENANT_CONFIGS).");
        }
        return JobSignature.Compute(settings.SigningKey, queue, id, slot, name, payload);
    }

    /// <summary>
    /// The payload encrypted for this job with the tenant's key (<see cref="JobSeal"/>), or null when payloads are kept
    /// in the clear (<see cref="JobQueueOptions.EncryptPayloads"/> off, or a single-tenant deployment without a key).
    /// </summary>
    public byte[]? Seal(string slot, string queue, string id, string name, string payload) =>
        options.Value.EncryptPayloads && Secret(slot) is { Length: > 0 } secret ? _seal.Seal(secret, queue, id, slot, name, payload) : null;

    /// <summary>A stored job's payload as its tenant sees it: opened when sealed; null when it does not open with the key.</summary>
    public string? Reveal(string slot, string queue, string id, string name, JobData data)
    {
        if (data.Sealed is not { } sealedBytes)
        {
            return data.Payload;
        }
        return Secret(slot) is { Length: > 0 } secret ? _seal.Open(secret, queue, id, slot, name, sealedBytes) : null;
    }

    private string? Secret(string slot)
    {
        if (slot == QueueLayout.NoTenant)
        {
            return options.Value.SingleTenantSigningKey;
        }
        try
        {
            return tenants.Get(TenantId.Parse(slot)).SigningKey;
        }
        catch (TenantNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Checks a fetched job before anything tenant-bound runs, opening its payload if it is sealed. Returns the job's
    /// tenant (null for a single-tenant job) and its payload, or the reason it must fail without running.
    /// </summary>
    public (TenantId? Tenant, string? Failure, string Payload) Authenticate(FetchedJob job)
    {
        var payload = job.Payload;
        if (job.Data?.Sealed is { } sealedBytes)
        {
            var opened = Secret(job.Tenant) is { Length: > 0 } secret ? _seal.Open(secret, job.Queue, job.Id, job.Tenant, job.Name, sealedBytes) : null;
            if (opened is null)
            {
                return (TenantId.TryParse(job.Tenant, out var claimed, out _) ? claimed : null,
                    $"Job {job.Id} on queue {job.Queue} has a sealed payload that does not open with its tenant's key: its tenant, name or payload " +
                    "differ from what was sealed at enqueue (tampered, or sealed with another key). The handler did not run.", "");
            }
            payload = opened;
        }
        var (tenant, failure) = Verify(job, payload, opened: job.Data?.Sealed is not null);
        return (tenant, failure, payload);
    }

    /// <summary>
    /// The job's tenant and signature checks. A payload that <paramref name="opened"/> with the tenant's key needs no
    /// signature: the seal already proves that a holder of that key made this payload for this queue, id, tenant and name.
    /// </summary>
    private (TenantId? Tenant, string? Failure) Verify(FetchedJob job, string payload, bool opened)
    {
        if (job.Tenant == QueueLayout.NoTenant)
        {
            if (tenants.IsMultiTenant)
            {
                return (null, $"Job {job.Id} on queue {job.Queue} has no tenant; in multi-tenant mode every job must carry one, so it was failed without running.");
            }
            var key = options.Value.SingleTenantSigningKey;
            if (string.IsNullOrEmpty(key) || opened)
            {
                return (null, null);
            }
            return JobSignature.Verify(key, job.Queue, job.Id, job.Tenant, job.Name, payload, job.Signature)
                ? (null, null)
                : (null, SignatureFailure(job));
        }
        if (!TenantId.TryParse(job.Tenant, out var tenant, out var error))
        {
            return (null, $"Job {job.Id} on queue {job.Queue} was failed without running: {error}");
        }
        TenantSettings settings;
        try
        {
            settings = tenants.Get(tenant);
        }
        catch (TenantNotFoundException e)
        {
            return (tenant, e.Message);
        }
        if (string.IsNullOrEmpty(settings.SigningKey))
        {
            return (tenant, $"Tenant {tenant} has no signing key configured, so job {job.Id} cannot be authenticated and was failed without running.");
        }
        return opened || JobSignature.Verify(settings.SigningKey, job.Queue, job.Id, job.Tenant, job.Name, payload, job.Signature)
            ? (tenant, null)
            : (tenant, SignatureFailure(job));
    }

    private static string SignatureFailure(FetchedJob job) =>
        $"Job {job.Id} on queue {job.Queue} failed signature verification: its tenant, name or payload differ from what was signed at enqueue " +
        "(tampered, or signed with another key). The handler did not run.";
}
