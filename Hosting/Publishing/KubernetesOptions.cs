using System.Text.RegularExpressions;

namespace Hosting.Publishing;

/// <summary>
/// The settings of the Kubernetes output, from the <c>Kubernetes</c> configuration section: <c>--Kubernetes:Namespace jobs</c>
/// on the command line, <c>Kubernetes__Namespace=jobs</c> in the environment. docs/deploy.md lists them all.
/// </summary>
public sealed partial class KubernetesOptions
{
    public const string Section = "Kubernetes";

    /// <summary>Namespace of every object; a Namespace object is written too unless it is <c>default</c>.</summary>
    public string Namespace { get; set; } = "default";

    /// <summary>Each web app is served at <c>&lt;resource&gt;.&lt;IngressDomain&gt;</c> (<c>web-tenant-a.jobs.example.com</c>).</summary>
    public string IngressDomain { get; set; } = "localhost";

    /// <summary>Scheme of the tenants' public base URLs (links in mail): <c>https</c>, or <c>http</c> for a cluster without TLS.</summary>
    public string PublicScheme { get; set; } = "https";

    public string? IngressClass { get; set; }

    /// <summary>A TLS Secret (a wildcard certificate for the domain, say) that the Ingresses name; none: TLS ends before them.</summary>
    public string? IngressTlsSecret { get; set; }

    /// <summary>Namespace of the ingress controller, the only one whose pods may reach the web apps; unset: any namespace.</summary>
    public string? IngressNamespace { get; set; }

    /// <summary>Registry of the images (<c>registry.example.com</c>), as given to <c>-p:ContainerRegistry</c>; unset: none.</summary>
    public string? ImageRegistry { get; set; }

    /// <summary>Tag of the images, as given to <c>-p:ContainerImageTag</c>.</summary>
    public string ImageTag { get; set; } = "latest";

    /// <summary>OTLP endpoint of every service (<c>http://otel-collector.observability:4317</c>); unset: no telemetry leaves the pods.</summary>
    public string? OtlpEndpoint { get; set; }

    public string OtlpProtocol { get; set; } = "grpc";

    public SmtpSettings Smtp { get; set; } = new();

    /// <summary>Publish the development mail catcher (Mailpit) and send every mail to it, instead of <see cref="Smtp"/>.</summary>
    public bool DevelopmentSmtp { get; set; }

    /// <summary>
    /// Write this machine's parameter values into <c>secrets/secrets.env</c> (a throwaway cluster only). Off: the output
    /// holds no secret value at all.
    /// </summary>
    public bool IncludeSecretValues { get; set; }

    /// <summary>Tenants per tenant-settings ConfigMap and Secret (each stays far below Kubernetes' 1 MiB).</summary>
    public int TenantsPerSecret { get; set; } = 500;

    public WorkerScaling Workers { get; set; } = new();

    /// <summary>Namespace of KEDA's operator, whose pods may read the workers' backlog endpoint.</summary>
    public string KedaNamespace { get; set; } = "keda";

    /// <summary>Pods the PodDisruptionBudgets let a voluntary disruption (a node drain) take at once, per web app and the workers.</summary>
    public int MaxUnavailable { get; set; } = 1;

    /// <summary>
    /// Requests and limits by service: a resource name (<c>web-tenant-a</c>) first, then its kind (<c>web</c>, <c>workers</c>,
    /// <c>scheduler</c>, <c>tenant-provisioning</c>, <c>valkey</c>, <c>postgres</c>, <c>smtp</c>), then the defaults.
    /// </summary>
    public Dictionary<string, ComputeResources> Resources { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Size of each volume claim by resource (<c>postgres</c>, <c>valkey</c>).</summary>
    public Dictionary<string, string> Storage { get; set; } = new(StringComparer.Ordinal) { ["postgres"] = "10Gi", ["valkey"] = "2Gi" };

    public sealed class SmtpSettings
    {
        public string? Host { get; set; }

        public int Port { get; set; } = 587;

        /// <summary><c>SMTP_SECURITY</c> of the workers: <c>StartTls</c>, <c>SslOnConnect</c>, <c>None</c>, <c>Auto</c>.</summary>
        public string Security { get; set; } = "StartTls";

        /// <summary>When set, the workers authenticate; the password is the Secret key <c>smtp-password</c>.</summary>
        public string? Username { get; set; }

        public string? From { get; set; }
    }

    public sealed class WorkerScaling
    {
        /// <summary>At least 1: the backlog figure is served by the workers themselves.</summary>
        public int MinReplicas { get; set; } = 1;

        public int MaxReplicas { get; set; } = 10;

        /// <summary>Jobs waiting on a queue per worker replica (KEDA's target value; the busiest queue decides).</summary>
        public int BacklogPerReplica { get; set; } = 100;

        /// <summary>How long the backlog must stay low before replicas are taken away.</summary>
        public int CooldownSeconds { get; set; } = 300;

        public int PollingSeconds { get; set; } = 15;
    }

    public sealed class ComputeResources
    {
        public string? CpuRequest { get; set; }

        public string? MemoryRequest { get; set; }

        public string? CpuLimit { get; set; }

        public string? MemoryLimit { get; set; }
    }

    /// <summary>Every problem with these settings, each naming its key; empty when they are usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        void Check(bool ok, string problem)
        {
            if (!ok)
            {
                problems.Add(problem);
            }
        }
        Check(DnsLabel().IsMatch(Namespace), $"Kubernetes:Namespace '{Namespace}' is not a DNS label (lower-case letters, digits and '-', at most 63).");
        Check(DnsName().IsMatch(IngressDomain), $"Kubernetes:IngressDomain '{IngressDomain}' is not a DNS name.");
        Check(PublicScheme is "https" or "http", $"Kubernetes:PublicScheme '{PublicScheme}' is neither https nor http.");
        Check(OtlpProtocol is "grpc" or "http/protobuf", $"Kubernetes:OtlpProtocol '{OtlpProtocol}' is neither grpc nor http/protobuf.");
        Check(OtlpEndpoint is null || Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out var otlp) && otlp.Scheme is "http" or "https",
            $"Kubernetes:OtlpEndpoint '{OtlpEndpoint}' is not an http:// or https:// URL.");
        Check(!(DevelopmentSmtp && Smtp.Host is not null), "Kubernetes:DevelopmentSmtp and Kubernetes:Smtp:Host are both set: choose one.");
        Check(Smtp.Port is > 0 and < 65536, $"Kubernetes:Smtp:Port {Smtp.Port} is not a port.");
        Check(TenantsPerSecret is >= 1 and <= 2000, $"Kubernetes:TenantsPerSecret {TenantsPerSecret} is not within 1 to 2000.");
        Check(Workers.MinReplicas >= 1, $"Kubernetes:Workers:MinReplicas {Workers.MinReplicas} is below 1: the workers serve the backlog figure KEDA scales them on.");
        Check(Workers.MaxReplicas >= Workers.MinReplicas, $"Kubernetes:Workers:MaxReplicas {Workers.MaxReplicas} is below MinReplicas {Workers.MinReplicas}.");
        Check(Workers.BacklogPerReplica >= 1, $"Kubernetes:Workers:BacklogPerReplica {Workers.BacklogPerReplica} is below 1.");
        Check(Workers.CooldownSeconds >= 0 && Workers.PollingSeconds >= 1, "Kubernetes:Workers:CooldownSeconds must be 0 or more and PollingSeconds 1 or more.");
        Check(MaxUnavailable >= 1, $"Kubernetes:MaxUnavailable {MaxUnavailable} is below 1: a single-replica web app could never be drained.");
        foreach (var (name, resources) in Resources)
        {
            foreach (var (key, value) in new[] { ("CpuRequest", resources.CpuRequest), ("MemoryRequest", resources.MemoryRequest), ("CpuLimit", resources.CpuLimit), ("MemoryLimit", resources.MemoryLimit) })
            {
                Check(value is null || Quantity().IsMatch(value), $"Kubernetes:Resources:{name}:{key} '{value}' is not a Kubernetes quantity (250m, 512Mi, 1).");
            }
        }
        foreach (var (name, size) in Storage)
        {
            Check(Quantity().IsMatch(size), $"Kubernetes:Storage:{name} '{size}' is not a Kubernetes quantity (10Gi).");
        }
        return problems;
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsName();

    [GeneratedRegex("^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")]
    private static partial Regex Quantity();
}
