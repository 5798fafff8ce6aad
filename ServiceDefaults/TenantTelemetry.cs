using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Logs;
using Tenancy;

namespace Microsoft.Extensions.Hosting;

/// <summary>The Queue library's telemetry names (kept as strings so service defaults do not depend on the queue).</summary>
public static class QueueTelemetryNames
{
    public const string ActivitySource = "Queue";
    public const string Meter = "Queue";
}

/// <summary>The attribute that carries the tenant on every signal.</summary>
public static class TenantTelemetry
{
    public const string AttributeName = "tenant.id";

    /// <summary>Tags <paramref name="activity"/> (a span started before the tenant was known, such as a web request's) with the current tenant.</summary>
    public static void Tag(Activity? activity, TenantId tenant) => activity?.SetTag(AttributeName, tenant.Value);

    internal static readonly ICurrentTenant Current = new AmbientCurrentTenant();
}

/// <summary>
/// Stamps <c>tenant.id</c> on every span that starts while a tenant is current (a tenant's request, a tenant's
/// job, and everything they call: database, SMTP, HTTP). Reads only the ambient tenant: stateless, safe to share.
/// </summary>
internal sealed class TenantActivityProcessor : BaseProcessor<Activity>
{
    public override void OnStart(Activity data)
    {
        if (TenantTelemetry.Current.Id is { } tenant && data.GetTagItem(TenantTelemetry.AttributeName) is null)
        {
            data.SetTag(TenantTelemetry.AttributeName, tenant.Value);
        }
    }
}

/// <summary>Adds <c>tenant.id</c> to every log record written while a tenant is current.</summary>
internal sealed class TenantLogProcessor : BaseProcessor<LogRecord>
{
    public override void OnEnd(LogRecord data)
    {
        if (TenantTelemetry.Current.Id is not { } tenant || HasTenantScope(data))
        {
            return;
        }
        var attributes = data.Attributes is { } existing ? new List<KeyValuePair<string, object?>>(existing.Count + 1) : [];
        if (data.Attributes is { } current)
        {
            foreach (var attribute in current)
            {
                if (attribute.Key == TenantTelemetry.AttributeName)
                {
                    return;
                }
                attributes.Add(attribute);
            }
        }
        attributes.Add(new(TenantTelemetry.AttributeName, tenant.Value));
        data.Attributes = attributes;
    }

    /// <summary>The queue engine's job scope already carries <c>tenant.id</c>; a second copy would only repeat it.</summary>
    private static bool HasTenantScope(LogRecord data)
    {
        var search = new ScopeSearch();
        data.ForEachScope(static (scope, state) =>
        {
            foreach (var item in scope)
            {
                state.Found |= item.Key == TenantTelemetry.AttributeName;
            }
        }, search);
        return search.Found;
    }

    private sealed class ScopeSearch
    {
        public bool Found { get; set; }
    }
}
