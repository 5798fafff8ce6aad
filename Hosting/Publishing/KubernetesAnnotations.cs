using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Hosting.Publishing;

/// <summary>Publishes the project as a Kubernetes Job (runs to completion) rather than a Deployment.</summary>
public sealed class KubernetesJobAnnotation : IResourceAnnotation;

/// <summary>
/// Published, the project's pods wait in an init container (<c>tenant-provisioning wait</c>, with the project's own
/// database settings) until its database exists, so they never start before <c>tenant-provisioning</c> made it.
/// </summary>
public sealed class DatabaseWaitAnnotation(ProjectResource provisioning) : IResourceAnnotation
{
    public ProjectResource Provisioning { get; } = provisioning;
}

/// <summary>Published, a KEDA ScaledObject scales the project's Deployment on the jobs waiting per queue (GET /metrics/backlog).</summary>
public sealed class BacklogScalingAnnotation(IReadOnlyList<string> queues) : IResourceAnnotation
{
    public const string Path = "/metrics/backlog";

    public IReadOnlyList<string> Queues { get; } = queues;
}

/// <summary>Published, the project's NetworkPolicy lets it reach any address on these ports (issue trackers, an SMTP relay).</summary>
public sealed class ExternalEgressAnnotation(int port, string purpose) : IResourceAnnotation
{
    public int Port { get; } = port;

    public string Purpose { get; } = purpose;
}

/// <summary>KEDA's ScaledObject (keda.sh/v1alpha1), the fields this output uses.</summary>
internal sealed class ScaledObject : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "keda.sh/v1alpha1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "ScaledObject";

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public ScaledObjectSpec Spec { get; set; } = new();
}

internal sealed class ScaledObjectSpec
{
    [JsonPropertyName("scaleTargetRef")]
    public ScaleTarget ScaleTargetRef { get; set; } = new();

    [JsonPropertyName("minReplicaCount")]
    public int MinReplicaCount { get; set; }

    [JsonPropertyName("maxReplicaCount")]
    public int MaxReplicaCount { get; set; }

    [JsonPropertyName("pollingInterval")]
    public int PollingInterval { get; set; }

    [JsonPropertyName("cooldownPeriod")]
    public int CooldownPeriod { get; set; }

    [JsonPropertyName("triggers")]
    public List<ScaleTrigger> Triggers { get; set; } = [];
}

internal sealed class ScaleTarget
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "apps/v1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Deployment";

    [JsonPropertyName("name")]
    public string Name { get; set; } = "";
}

internal sealed class ScaleTrigger
{
    [JsonPropertyName("type")]
    public string Type { get; set; } = "metrics-api";

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("metricType")]
    public string MetricType { get; set; } = "AverageValue";

    [JsonPropertyName("metadata")]
    public Dictionary<string, string> Metadata { get; set; } = [];
}
