using System.Globalization;
using Hosting.Infrastructure;
using k8s.Models;
using Queue;

namespace Hosting.Publishing;

/// <summary>
/// Valkey in the Kubernetes output: its users' ACL file as Secrets of their own, and, with <see cref="ValkeyClusterAnnotation"/>,
/// a cluster of masters and replicas in one StatefulSet, joined once by a Job.
/// </summary>
internal sealed partial class KubernetesManifestWriter
{
    /// <summary>ACL lines per Secret: a web app's line is about 1.1 KB, so a Secret stays near half of Kubernetes' 1 MiB.</summary>
    private const int AclLinesPerSecret = 500;
    private const int ValkeyBusOffset = 10000;
    private const string AclPlaceholder = "@@";

    private int _aclSecrets;

    private static string AclSecret(int index) => $"valkey-acl-{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// <c>secrets/valkey-acl-&lt;n&gt;.template</c>: the users of <see cref="ValkeyAcl"/>, each password a placeholder
    /// (<c>@@key@@</c>) naming its key of the values file; <c>secrets.sh</c> fills them in and makes the Secrets
    /// <c>valkey-acl-&lt;n&gt;</c>, which the Valkey pod mounts and joins into its ACL file at start. Users no published
    /// service uses (the AppHost's operator) are left out. Their passwords become [plain] keys (no white space).
    /// </summary>
    private async Task<IReadOnlyList<string>> WriteValkeyAclAsync(ValkeyContainerResource valkey, string secrets, CancellationToken cancellationToken)
    {
        var admin = _catalog.For(valkey.PasswordParameter);
        admin.Plain = true;
        var lines = new List<string>
        {
            ValkeyAcl.DefaultUser,
            $"user {ValkeyAcl.Admin} reset on >{AclPlaceholder}{admin.Key}{AclPlaceholder} {ValkeyAcl.Rules(ValkeyAcl.Admin)}",
        };
        foreach (var user in valkey.TryGetLastAnnotation<ValkeyUsersAnnotation>(out var users) ? users.Users : [])
        {
            if (_catalog.TryFor(user.PasswordParameter) is { } key)
            {
                key.Plain = true;
                lines.Add($"user {user.User} reset on >{AclPlaceholder}{key.Key}{AclPlaceholder} {ValkeyAcl.Rules(user.User)}");
            }
        }
        var written = new List<string>();
        foreach (var (chunk, index) in lines.Chunk(AclLinesPerSecret).Select((c, i) => (c, i)))
        {
            var name = $"{AclSecret(index)}.template";
            await File.WriteAllTextAsync(Path.Combine(secrets, name), string.Join('\n', chunk) + "\n", cancellationToken);
            written.Add("secrets/" + name);
        }
        _aclSecrets = written.Count;
        return written;
    }

    /// <summary>The ACL Secrets mounted where the start script joins them; a cluster's bus port.</summary>
    private void ValkeyPod(ValkeyContainerResource valkey, V1Container container, List<V1Volume> volumes, List<V1ContainerPort> ports)
    {
        volumes.Add(new V1Volume
        {
            Name = "valkey-acl",
            Projected = new V1ProjectedVolumeSource
            {
                DefaultMode = Convert.ToInt32("400", 8),
                Sources = [.. Enumerable.Range(0, _aclSecrets).Select(i => new V1VolumeProjection { Secret = new V1SecretProjection { Name = AclSecret(i) } })],
            },
        });
        container.VolumeMounts.Add(new V1VolumeMount { Name = "valkey-acl", MountPath = ValkeyContainerResource.AclDirectory, ReadOnlyProperty = true });
        // The users come from the mounted Secrets only: the pod needs neither their passwords nor a script that lists them.
        container.Args = ["-c", ValkeyContainerBuilderExtensions.StartScript(valkey, inline: false), "valkey"];
        if (valkey.HasAnnotationOfType<ValkeyClusterAnnotation>())
        {
            ports.Add(new V1ContainerPort { ContainerPort = ValkeyContainerResource.Port + ValkeyBusOffset, Name = "bus" });
        }
    }

    /// <summary>
    /// A Valkey Cluster: the StatefulSet runs one pod per node, each announcing its stable name
    /// (<c>valkey-&lt;i&gt;.valkey</c>, a headless Service), its configuration on its volume so a restarted pod rejoins;
    /// replication authenticates as admin. The Job <c>valkey-cluster-init</c> waits for every node and, the first time only,
    /// creates the cluster (<c>valkey-cli --cluster create</c>: the masters share the slots in equal contiguous ranges,
    /// which the queue's shard tags follow). Nodes reach each other on both ports; a disruption budget lets one go at a time.
    /// </summary>
    private void ValkeyCluster(ValkeyContainerResource valkey, ValkeyClusterAnnotation cluster, List<object> documents, V1Container container, V1PodTemplateSpec pod)
    {
        var name = valkey.Name;
        var nodes = cluster.Masters * (1 + cluster.ReplicasPerMaster);
        var domain = $"{name}.{options.Namespace}.svc.cluster.local";
        var admin = _catalog.For(valkey.PasswordParameter);
        container.Env ??= [];
        container.Env.Add(new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } });
        container.Args =
        [
            .. container.Args ?? [],
            "--cluster-enabled", "yes", "--cluster-config-file", "/data/nodes.conf", "--cluster-node-timeout", "5000",
            "--cluster-announce-hostname", $"$(POD_NAME).{domain}", "--cluster-preferred-endpoint-type", "hostname",
            "--masteruser", ValkeyAcl.Admin, "--masterauth", $"$({ValkeyContainerResource.AdminPasswordVariable})",
        ];
        var statefulSet = documents.OfType<V1StatefulSet>().Single();
        statefulSet.Spec.Replicas = nodes;
        statefulSet.Spec.PodManagementPolicy = "Parallel";
        var service = documents.OfType<V1Service>().Single();
        // Headless: each node has a stable DNS name, and the service name resolves to all of them (a client needs one).
        service.Spec.ClusterIP = "None";
        service.Spec.Ports.Add(new V1ServicePort { Port = ValkeyContainerResource.Port + ValkeyBusOffset, Name = "bus", TargetPort = "bus" });
        service.Spec.PublishNotReadyAddresses = true;

        var policy = documents.OfType<V1NetworkPolicy>().Single();
        var peers = new V1NetworkPolicyPeer { PodSelector = Selector(name) };
        var init = new V1NetworkPolicyPeer { PodSelector = Selector($"{name}-cluster-init") };
        policy.Spec.Ingress.Add(new V1NetworkPolicyIngressRule
        {
            FromProperty = [peers, init],
            Ports = [new V1NetworkPolicyPort { Port = ValkeyContainerResource.Port, Protocol = "TCP" }, new V1NetworkPolicyPort { Port = ValkeyContainerResource.Port + ValkeyBusOffset, Protocol = "TCP" }],
        });
        policy.Spec.Egress.Add(new V1NetworkPolicyEgressRule
        {
            To = [peers],
            Ports = [new V1NetworkPolicyPort { Port = ValkeyContainerResource.Port, Protocol = "TCP" }, new V1NetworkPolicyPort { Port = ValkeyContainerResource.Port + ValkeyBusOffset, Protocol = "TCP" }],
        });
        documents.Add(new V1PodDisruptionBudget
        {
            ApiVersion = "policy/v1",
            Kind = "PodDisruptionBudget",
            Metadata = Meta(name, name),
            Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = 1, Selector = Selector(name) },
        });

        var hosts = string.Join(' ', Enumerable.Range(0, nodes).Select(i => $"{name}-{i.ToString(CultureInfo.InvariantCulture)}.{domain}:{ValkeyContainerResource.Port.ToString(CultureInfo.InvariantCulture)}"));
        var script = $$"""
            set -e
            export REDISCLI_AUTH="$VALKEY_ADMIN_PASSWORD"
            for node in {{hosts}}; do
              until valkey-cli --user {{ValkeyAcl.Admin}} -h "${node%:*}" -p "${node##*:}" ping 2>/dev/null | grep -q PONG; do
                echo "waiting for $node"; sleep 2
              done
            done
            first={{name}}-0.{{domain}}
            if valkey-cli --user {{ValkeyAcl.Admin}} -h "$first" cluster info | grep -q 'cluster_state:ok'; then
              echo "the cluster is formed already"; exit 0
            fi
            valkey-cli --user {{ValkeyAcl.Admin}} --cluster create {{hosts}} --cluster-replicas {{cluster.ReplicasPerMaster.ToString(CultureInfo.InvariantCulture)}} --cluster-yes
            until valkey-cli --user {{ValkeyAcl.Admin}} -h "$first" cluster info | grep -q 'cluster_state:ok'; do sleep 1; done
            echo "formed a cluster of {{cluster.Masters.ToString(CultureInfo.InvariantCulture)}} masters with {{cluster.ReplicasPerMaster.ToString(CultureInfo.InvariantCulture)}} replicas each"
            """;
        var job = $"{name}-cluster-init";
        documents.Add(new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = Meta(job, job),
            Spec = new V1JobSpec
            {
                BackoffLimit = 10,
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Labels(job, job) },
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "OnFailure",
                        AutomountServiceAccountToken = false,
                        SecurityContext = pod.Spec.SecurityContext,
                        Containers =
                        [
                            new V1Container
                            {
                                Name = job,
                                Image = container.Image,
                                Command = ["/bin/sh", "-c", script],
                                Env = [SecretEnv(ValkeyContainerResource.AdminPasswordVariable, admin)],
                                Resources = Compute(job, "scheduler"),
                                SecurityContext = ContainerSecurity(readOnlyRoot: true),
                            },
                        ],
                    },
                },
            },
        });
        documents.Add(new V1NetworkPolicy
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "NetworkPolicy",
            Metadata = Meta(job, job),
            Spec = new V1NetworkPolicySpec
            {
                PodSelector = Selector(job),
                PolicyTypes = ["Ingress", "Egress"],
                Ingress = [],
                Egress =
                [
                    new V1NetworkPolicyEgressRule { Ports = [new V1NetworkPolicyPort { Port = 53, Protocol = "UDP" }, new V1NetworkPolicyPort { Port = 53, Protocol = "TCP" }] },
                    new V1NetworkPolicyEgressRule { To = [peers], Ports = [new V1NetworkPolicyPort { Port = ValkeyContainerResource.Port, Protocol = "TCP" }] },
                ],
            },
        });
    }
}
