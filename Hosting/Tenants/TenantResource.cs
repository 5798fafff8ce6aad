using Tenancy;

namespace Hosting.Tenants;

/// <summary>
/// One tenant as a row of the Aspire dashboard (resource type <c>Tenant</c>, named by its id), with its web app and
/// other per-tenant resources under it. Its state and figures come from the job engine's counts in Valkey
/// (<see cref="TenantMonitor"/>), so they are right whether or not a worker runs.
/// </summary>
public sealed class TenantResource(TenantId id) : Resource(id.Value!)
{
    public const string ResourceType = "Tenant";

    public TenantId Id { get; } = id;

    /// <summary>The tenant's web app, whose address the row links to.</summary>
    public EndpointReference? WebEndpoint { get; internal set; }

    /// <summary>Where its administrator's sign-in comes from, which the AppHost's console names once the topology is up.</summary>
    public TenantSignIn? SignIn { get; internal set; }
}

/// <summary>The states a tenant row shows, and their styles.</summary>
public static class TenantStates
{
    public const string Starting = "Starting";
    public const string Healthy = "Healthy";
    public const string Backlog = "Backlog";
    public const string AtCeiling = "At ceiling";
    public const string Failing = "Failing";
    public const string Paused = "Paused";
    public const string NotConfigured = "Not configured";

    /// <summary>"Database unreachable", "Smtp unreachable", ...: the tenant's jobs are held for that dependency.</summary>
    public static string Unreachable(string dependency) =>
        dependency.Length == 0 ? "Dependency unreachable" : char.ToUpperInvariant(dependency[0]) + dependency[1..] + " unreachable";
}

/// <summary>How an administrator signs in to a tenant's web app: the parameters that hold the email and the password.</summary>
public sealed record TenantSignIn(ParameterResource Email, ParameterResource Password);
