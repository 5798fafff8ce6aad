using System.Globalization;
using System.Text;
using k8s;
using k8s.Models;

namespace Hosting.Publishing;

/// <summary>
/// Turns Aspire's application model into plain Kubernetes manifests, one file per resource. Projects become Deployments
/// (or a Job) with a Service, and an Ingress for external HTTP endpoints; containers become Deployments, or StatefulSets
/// when they mount a volume; bind-mounted directories become ConfigMaps. Every value that involves a secret parameter
/// goes to a Secret, never a ConfigMap. Project images are expected as <c>&lt;project&gt;:latest</c> (lower case),
/// e.g. from <c>dotnet publish /t:PublishContainer</c>. Probes: <c>/health</c> (readiness) and <c>/alive</c> (liveness)
/// for projects, TCP for containers.
/// </summary>
internal sealed class KubernetesManifestWriter(DistributedApplicationExecutionContext executionContext, string ingressDomain)
{
    private const int ProjectHttpPort = 8080;

    public async Task<int> WriteAsync(DistributedApplicationModel model, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var count = 0;
        foreach (var resource in model.Resources)
        {
            var documents = await CreateAsync(resource, cancellationToken);
            if (documents.Count == 0)
            {
                continue;
            }
            var text = new StringBuilder();
            foreach (var document in documents)
            {
                text.Append("---\n").Append(KubernetesYaml.Serialize(document).TrimEnd('\n')).Append('\n');
            }
            await File.WriteAllTextAsync(Path.Combine(directory, resource.Name + ".yaml"), text.ToString(), cancellationToken);
            count++;
        }
        return count;
    }

    internal async Task<List<IKubernetesObject>> CreateAsync(IResource resource, CancellationToken cancellationToken)
    {
        if (resource.IsExcludedFromPublish())
        {
            return [];
        }
        return resource switch
        {
            ProjectResource project => await ProjectAsync(project, cancellationToken),
            ContainerResource container => await ContainerAsync(container, cancellationToken),
            // Parameters and connection strings live in their consumers' Secrets; databases in their server's init script.
            _ => [],
        };
    }

    private async Task<List<IKubernetesObject>> ProjectAsync(ProjectResource project, CancellationToken cancellationToken)
    {
        var name = project.Name;
        var (plain, secret) = await EnvironmentAsync(project, cancellationToken);
        plain["HTTP_PORTS"] = ProjectHttpPort.ToString(CultureInfo.InvariantCulture);
        plain["OTEL_SERVICE_NAME"] = name;
        plain.TryAdd("DOTNET_ENVIRONMENT", "Production");
        plain.TryAdd("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true");

        var documents = new List<IKubernetesObject> { ConfigMap($"{name}-config", name, plain) };
        var envFrom = new List<V1EnvFromSource> { new() { ConfigMapRef = new V1ConfigMapEnvSource { Name = $"{name}-config" } } };
        if (secret.Count > 0)
        {
            documents.Add(Secret($"{name}-secrets", name, secret));
            envFrom.Add(new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = $"{name}-secrets" } });
        }
        var image = Path.GetFileNameWithoutExtension(project.GetProjectMetadata().ProjectPath).ToLowerInvariant();
        var container = new V1Container
        {
            Name = name,
            Image = $"{image}:latest",
            ImagePullPolicy = "IfNotPresent",
            Ports = [new V1ContainerPort { ContainerPort = ProjectHttpPort, Name = "http" }],
            EnvFrom = envFrom,
            ReadinessProbe = HttpProbe("/health"),
            LivenessProbe = HttpProbe("/alive"),
            Resources = Requests("100m", "128Mi", "512Mi"),
        };
        var replicas = project.TryGetLastAnnotation<ReplicaAnnotation>(out var replica) ? replica.Replicas : 1;
        var asJob = project.HasAnnotationOfType<KubernetesJobAnnotation>();
        var pod = new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Labels(name) },
            Spec = new V1PodSpec { Containers = [container], RestartPolicy = asJob ? "OnFailure" : "Always" },
        };
        if (asJob)
        {
            documents.Add(new V1Job
            {
                ApiVersion = "batch/v1",
                Kind = "Job",
                Metadata = Meta(name, name),
                Spec = new V1JobSpec { Template = pod, BackoffLimit = 6, Parallelism = replicas },
            });
            return documents;
        }
        documents.Add(new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Meta(name, name),
            Spec = new V1DeploymentSpec { Replicas = replicas, Selector = new V1LabelSelector { MatchLabels = Labels(name) }, Template = pod },
        });
        documents.Add(Service(name, [new V1ServicePort { Port = ProjectHttpPort, Name = "http", TargetPort = "http" }]));
        if (project.TryGetEndpoints(out var endpoints) && endpoints.Any(e => e.IsExternal && e.UriScheme is "http" or "https"))
        {
            documents.Add(Ingress(name));
        }
        return documents;
    }

    private async Task<List<IKubernetesObject>> ContainerAsync(ContainerResource resource, CancellationToken cancellationToken)
    {
        var name = resource.Name;
        if (!resource.TryGetContainerImageName(out var image))
        {
            throw new InvalidOperationException($"Container '{name}' has no image to publish.");
        }
        var (plain, secret) = await EnvironmentAsync(resource, cancellationToken);
        var documents = new List<IKubernetesObject>();
        if (secret.Count > 0)
        {
            documents.Add(Secret($"{name}-secrets", name, secret));
        }
        var endpoints = resource.TryGetEndpoints(out var declared) ? declared.ToList() : [];
        var ports = endpoints.Select(e => new V1ContainerPort { ContainerPort = e.TargetPort ?? e.Port ?? 80, Name = e.Name }).ToList();
        var container = new V1Container
        {
            Name = name,
            Image = image,
            Command = resource.Entrypoint is { } entrypoint ? [entrypoint] : null,
            Args = await ArgumentsAsync(resource, cancellationToken) is { Count: > 0 } args ? args : null,
            Env = plain.Select(e => new V1EnvVar { Name = e.Key, Value = e.Value })
                .Concat(secret.Keys.Select(key => new V1EnvVar
                {
                    Name = key,
                    ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = $"{name}-secrets", Key = key } },
                }))
                .ToList(),
            Ports = ports,
            ReadinessProbe = ports.Count > 0 ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 5 } : null,
            LivenessProbe = ports.Count > 0 ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 10 } : null,
            Resources = Requests("100m", "128Mi", "1Gi"),
            VolumeMounts = [],
        };
        var podVolumes = new List<V1Volume>();
        var claims = new List<V1PersistentVolumeClaim>();
        var mounts = resource.TryGetContainerMounts(out var declaredMounts) ? declaredMounts.ToList() : [];
        foreach (var (mount, index) in mounts.Select((m, i) => (m, i)))
        {
            var volume = $"{(mount.Type == ContainerMountType.Volume ? "data" : "files")}-{index}";
            container.VolumeMounts.Add(new V1VolumeMount { Name = volume, MountPath = mount.Target, ReadOnlyProperty = mount.IsReadOnly });
            if (mount.Type == ContainerMountType.Volume)
            {
                claims.Add(new V1PersistentVolumeClaim
                {
                    Metadata = new V1ObjectMeta { Name = volume },
                    Spec = new V1PersistentVolumeClaimSpec
                    {
                        AccessModes = ["ReadWriteOnce"],
                        Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("2Gi") } },
                    },
                });
            }
            else
            {
                // A bind-mounted directory of the AppHost (an init script, say) travels as a ConfigMap of its files.
                var files = Directory.Exists(mount.Source)
                    ? Directory.GetFiles(mount.Source!).Order(StringComparer.Ordinal).ToDictionary(file => Path.GetFileName(file), File.ReadAllText)
                    : new Dictionary<string, string> { [Path.GetFileName(mount.Source!)] = File.ReadAllText(mount.Source!) };
                documents.Add(ConfigMap($"{name}-{volume}", name, files));
                podVolumes.Add(new V1Volume { Name = volume, ConfigMap = new V1ConfigMapVolumeSource { Name = $"{name}-{volume}", DefaultMode = Convert.ToInt32("755", 8) } });
            }
        }
        var pod = new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Labels(name) },
            Spec = new V1PodSpec { Containers = [container], Volumes = podVolumes.Count > 0 ? podVolumes : null },
        };
        documents.Add(claims.Count > 0
            ? new V1StatefulSet
            {
                ApiVersion = "apps/v1",
                Kind = "StatefulSet",
                Metadata = Meta(name, name),
                Spec = new V1StatefulSetSpec
                {
                    ServiceName = name,
                    Replicas = 1,
                    Selector = new V1LabelSelector { MatchLabels = Labels(name) },
                    Template = pod,
                    VolumeClaimTemplates = claims,
                },
            }
            : new V1Deployment
            {
                ApiVersion = "apps/v1",
                Kind = "Deployment",
                Metadata = Meta(name, name),
                Spec = new V1DeploymentSpec { Replicas = 1, Selector = new V1LabelSelector { MatchLabels = Labels(name) }, Template = pod },
            });
        if (ports.Count > 0)
        {
            documents.Add(Service(name, ports.Select(p => new V1ServicePort { Port = p.ContainerPort, Name = p.Name, TargetPort = p.Name }).ToList()));
        }
        return documents;
    }

    /// <summary>The resource's environment in publish mode, split into plain values and values that carry a secret.</summary>
    private async Task<(Dictionary<string, string> Plain, Dictionary<string, string> Secret)> EnvironmentAsync(IResource resource, CancellationToken cancellationToken)
    {
        var plain = new Dictionary<string, string>(StringComparer.Ordinal);
        var secret = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!resource.TryGetEnvironmentVariables(out var callbacks))
        {
            return (plain, secret);
        }
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        var context = new EnvironmentCallbackContext(executionContext, resource, values, cancellationToken);
        foreach (var callback in callbacks)
        {
            await callback.Callback(context);
        }
        foreach (var (key, value) in values)
        {
            var rendered = new RenderedValue();
            var text = await RenderAsync(value, rendered, cancellationToken);
            (rendered.IsSecret ? secret : plain)[key] = text;
        }
        return (plain, secret);
    }

    private async Task<List<string>> ArgumentsAsync(IResource resource, CancellationToken cancellationToken)
    {
        var args = new List<object>();
        if (resource.TryGetAnnotationsOfType<CommandLineArgsCallbackAnnotation>(out var callbacks))
        {
            var context = new CommandLineArgsCallbackContext(args, resource, cancellationToken) { ExecutionContext = executionContext };
            foreach (var callback in callbacks)
            {
                await callback.Callback(context);
            }
        }
        var result = new List<string>();
        foreach (var arg in args)
        {
            result.Add(await RenderAsync(arg, new RenderedValue(), cancellationToken));
        }
        return result;
    }

    private sealed class RenderedValue
    {
        public bool IsSecret { get; set; }
    }

    /// <summary>A value as the pod sees it: services by their Kubernetes DNS name and container port, parameters resolved.</summary>
    private async Task<string> RenderAsync(object? value, RenderedValue rendered, CancellationToken cancellationToken)
    {
        switch (value)
        {
            case null:
                return string.Empty;
            case string text:
                return text;
            case ParameterResource parameter:
                rendered.IsSecret |= parameter.Secret;
                return await parameter.GetValueAsync(cancellationToken) ?? string.Empty;
            case ConnectionStringReference reference:
                return await RenderAsync(reference.Resource.ConnectionStringExpression, rendered, cancellationToken);
            case IResourceWithConnectionString withConnectionString:
                return await RenderAsync(withConnectionString.ConnectionStringExpression, rendered, cancellationToken);
            case EndpointReference { EndpointAnnotation.IsExternal: true, EndpointAnnotation.UriScheme: "http" or "https" } external:
                // What users open (links in mail, say): the address its Ingress serves.
                return $"http://{external.Resource.Name}.{ingressDomain}";
            case EndpointReference endpoint:
                return $"{endpoint.EndpointAnnotation.UriScheme}://{endpoint.Resource.Name}:{PortOf(endpoint)}";
            case EndpointReferenceExpression property:
                return property.Property switch
                {
                    EndpointProperty.Host or EndpointProperty.IPV4Host => property.Endpoint.Resource.Name,
                    EndpointProperty.Port or EndpointProperty.TargetPort => PortOf(property.Endpoint),
                    EndpointProperty.HostAndPort => $"{property.Endpoint.Resource.Name}:{PortOf(property.Endpoint)}",
                    EndpointProperty.Scheme => property.Endpoint.EndpointAnnotation.UriScheme,
                    _ => $"{property.Endpoint.EndpointAnnotation.UriScheme}://{property.Endpoint.Resource.Name}:{PortOf(property.Endpoint)}",
                };
            case ReferenceExpression expression:
                var parts = new object[expression.ValueProviders.Count];
                for (var i = 0; i < parts.Length; i++)
                {
                    var part = await RenderAsync(expression.ValueProviders[i], rendered, cancellationToken);
                    parts[i] = expression.StringFormats[i] == "uri" ? Uri.EscapeDataString(part) : part;
                }
                return string.Format(CultureInfo.InvariantCulture, expression.Format, parts);
            case IValueProvider provider:
                return await provider.GetValueAsync(cancellationToken) ?? string.Empty;
            default:
                return Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
        }
    }

    private static string PortOf(EndpointReference endpoint) =>
        (endpoint.EndpointAnnotation.TargetPort ?? (endpoint.Resource is ProjectResource ? ProjectHttpPort : endpoint.EndpointAnnotation.Port ?? 80))
            .ToString(CultureInfo.InvariantCulture);

    private V1Ingress Ingress(string name) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "Ingress",
        Metadata = Meta(name, name),
        Spec = new V1IngressSpec
        {
            Rules =
            [
                new V1IngressRule
                {
                    Host = $"{name}.{ingressDomain}",
                    Http = new V1HTTPIngressRuleValue
                    {
                        Paths =
                        [
                            new V1HTTPIngressPath
                            {
                                Path = "/",
                                PathType = "Prefix",
                                Backend = new V1IngressBackend { Service = new V1IngressServiceBackend { Name = name, Port = new V1ServiceBackendPort { Name = "http" } } },
                            },
                        ],
                    },
                },
            ],
        },
    };

    private static V1Service Service(string name, List<V1ServicePort> ports) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Meta(name, name),
        Spec = new V1ServiceSpec { Selector = Labels(name), Ports = ports, Type = "ClusterIP" },
    };

    private static V1ConfigMap ConfigMap(string name, string app, Dictionary<string, string> data) =>
        new() { ApiVersion = "v1", Kind = "ConfigMap", Metadata = Meta(name, app), Data = data };

    private static V1Secret Secret(string name, string app, Dictionary<string, string> values) =>
        new() { ApiVersion = "v1", Kind = "Secret", Metadata = Meta(name, app), Type = "Opaque", StringData = values };

    private static V1Probe HttpProbe(string path) => new()
    {
        HttpGet = new V1HTTPGetAction { Port = "http", Path = path },
        InitialDelaySeconds = 5,
        PeriodSeconds = 10,
        TimeoutSeconds = 3,
        FailureThreshold = 3,
    };

    private static V1ResourceRequirements Requests(string cpu, string memory, string memoryLimit) => new()
    {
        Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu), ["memory"] = new(memory) },
        Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new(memoryLimit) },
    };

    private static V1ObjectMeta Meta(string name, string app) => new() { Name = name, Labels = Labels(app) };

    private static Dictionary<string, string> Labels(string app) => new()
    {
        ["app.kubernetes.io/name"] = app,
        ["app.kubernetes.io/part-of"] = "apphost",
    };
}
