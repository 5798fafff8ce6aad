using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Hosting.Infrastructure;
using Hosting.Tenants;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Hosting.Publishing;

/// <summary>
/// Turns Aspire's application model into plain Kubernetes manifests that an operator can apply, one file per resource:
/// projects become Deployments (with a Service, an Ingress for external HTTP endpoints, a PodDisruptionBudget) or Jobs;
/// containers become Deployments, or StatefulSets when they keep a volume. Every workload gets a NetworkPolicy derived
/// from what it references, runs as a non-root user, and has requests and limits.
/// <para>No secret value is written. Each secret value is one key of one Secret (<see cref="SecretCatalog"/>); pods read
/// it through <c>secretKeyRef</c>, and a longer value that contains it (a connection string) is composed in the pod from
/// <c>$(SECRET_...)</c>. The tenants' settings are ConfigMaps (plain) and Secrets (a file per password or key) projected
/// into <c>/etc/tenant-settings</c>. <c>secrets/secrets.env.example</c> lists the keys the operator fills in.</para>
/// </summary>
internal sealed partial class KubernetesManifestWriter(DistributedApplicationExecutionContext executionContext, KubernetesOptions options, ILogger logger)
{
    private const int ProjectHttpPort = 8080;
    private const long AppUser = 1654;
    private const string TenantSettingsPath = "/etc/tenant-settings";
    private const string PartOf = "multi-tenant-jobs";

    private readonly SecretCatalog _catalog = new();

    public SecretCatalog Catalog => _catalog;

    /// <summary>A value as the pod sees it: literal text and secret parameters, composed in the pod.</summary>
    private sealed class Value(List<object> parts)
    {
        public List<object> Parts { get; } = parts;

        public static Value Literal(string text) => new([text]);

        public bool IsLiteral => Parts.All(p => p is string);

        public string Text => string.Concat(Parts.Cast<string>());

        public ParameterResource? WholeSecret => Parts is [ParameterResource parameter] ? parameter : null;

        public IEnumerable<ParameterResource> Secrets => Parts.OfType<ParameterResource>();
    }

    /// <summary>Stands for the tenant settings ConfigMaps in messages about their values.</summary>
    private sealed class TenantSettingsResource() : Resource("tenant-settings");

    /// <summary>One workload's rendered environment, arguments and what it reaches over the network.</summary>
    private sealed class Plan(IResource resource)
    {
        public IResource Resource { get; } = resource;

        public Dictionary<string, Value> Environment { get; } = new(StringComparer.Ordinal);

        public List<Value> Arguments { get; } = [];

        public HashSet<IResource> References { get; } = [];
    }

    public async Task<IReadOnlyList<string>> WriteAsync(DistributedApplicationModel model, string directory, CancellationToken cancellationToken)
    {
        if (options.Problems() is { Count: > 0 } problems)
        {
            throw new DistributedApplicationException("Invalid Kubernetes settings: " + string.Join(" ", problems));
        }
        Directory.CreateDirectory(directory);

        var tenants = model.Resources.SelectMany(r => r.Annotations.OfType<TenantSettingsAnnotation>()).FirstOrDefault()?.Tenants ?? [];
        var chunks = tenants.Chunk(options.TenantsPerSecret).ToList();
        foreach (var (chunk, index) in chunks.Select((c, i) => (c, i)))
        {
            foreach (var tenant in chunk)
            {
                _catalog.AddTenant(tenant, index);
            }
        }
        if (options.OtlpEndpoint is not null)
        {
            _catalog.Declare(SecretCatalog.SharedSecret, "otlp-headers",
                "OTEL_EXPORTER_OTLP_HEADERS of every service (api-key=..., comma-separated), when the collector wants any", optional: true);
        }

        var plans = new List<Plan>();
        foreach (var resource in model.Resources.Where(Publishes))
        {
            plans.Add(await PlanAsync(resource, tenants, cancellationToken));
        }
        _catalog.Place();
        foreach (var value in plans.SelectMany(p => p.Environment.Values.Concat(p.Arguments)).Where(v => v.WholeSecret is null))
        {
            foreach (var parameter in value.Secrets)
            {
                _catalog.For(parameter).Plain = true;
            }
        }

        var secrets = Path.Combine(directory, "secrets");
        Directory.CreateDirectory(secrets);
        var files = new List<string>();
        if (plans.Select(p => p.Resource).OfType<ValkeyContainerResource>().FirstOrDefault() is { } valkey)
        {
            files.AddRange(await WriteValkeyAclAsync(valkey, secrets, cancellationToken));
        }

        var referencedBy = plans.SelectMany(p => p.References.Select(r => (Target: r, Source: p.Resource)))
            .ToLookup(x => x.Target, x => x.Source);
        async Task WriteFileAsync(string name, IEnumerable<object> documents)
        {
            var text = new StringBuilder();
            foreach (var document in documents)
            {
                text.Append("---\n").Append(KubernetesYaml.Serialize(document).TrimEnd('\n')).Append('\n');
            }
            await File.WriteAllTextAsync(Path.Combine(directory, name), text.ToString(), cancellationToken);
            files.Add(name);
        }

        if (options.Namespace != "default")
        {
            await WriteFileAsync("namespace.yaml", [Namespace()]);
        }
        if (chunks.Count > 0)
        {
            var maps = new List<object>();
            foreach (var (chunk, index) in chunks.Select((c, i) => (c, i)))
            {
                maps.Add(ConfigMap($"tenant-settings-{index}", "tenant-settings", new() { [$"tenants-{index}.json"] = await TenantSettingsJsonAsync(chunk, cancellationToken) }));
            }
            await WriteFileAsync("tenant-settings.yaml", maps);
        }
        foreach (var plan in plans)
        {
            var documents = plan.Resource switch
            {
                ProjectResource project => Project(project, plan, chunks.Count),
                ContainerResource container => await ContainerAsync(container, plan, referencedBy[plan.Resource].ToList(), cancellationToken),
                _ => [],
            };
            await WriteFileAsync(plan.Resource.Name + ".yaml", documents);
        }

        await File.WriteAllTextAsync(Path.Combine(secrets, "secrets.env.example"), _catalog.Example(options.Namespace), cancellationToken);
        var script = Path.Combine(secrets, "secrets.sh");
        await using (var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("Hosting.Resources.secrets.sh")!)
        await using (var file = File.Create(script))
        {
            await resource.CopyToAsync(file, cancellationToken);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        }
        files.Add("secrets/secrets.env.example");
        files.Add("secrets/secrets.sh");
        if (options.IncludeSecretValues)
        {
            var values = Path.Combine(secrets, "secrets.env");
            await File.WriteAllTextAsync(values, await _catalog.ValuesAsync(cancellationToken), cancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(values, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            files.Add("secrets/secrets.env");
        }
        return files;
    }

    private static bool Publishes(IResource resource) =>
        resource is ProjectResource or ContainerResource
        // A Kubernetes-only Job is left out of the azd manifest but is published here.
        && (!resource.IsExcludedFromPublish() || resource.HasAnnotationOfType<KubernetesJobAnnotation>());

    private async Task<Plan> PlanAsync(IResource resource, IReadOnlyList<TenantSettingsEntry> tenants, CancellationToken cancellationToken)
    {
        var plan = new Plan(resource);
        if (resource.TryGetEnvironmentVariables(out var callbacks))
        {
            var values = new Dictionary<string, object>(StringComparer.Ordinal);
            var context = new EnvironmentCallbackContext(executionContext, resource, values, cancellationToken);
            foreach (var callback in callbacks)
            {
                await callback.Callback(context);
            }
            if (resource.HasAnnotationOfType<TenantSettingsAnnotation>())
            {
                // Mounted as files instead: one variable cannot carry thousands of tenants (Linux caps one at 128 KiB).
                values.Remove(TenantSettingsAnnotation.Variable);
                values["TENANT_CONFIG_FILE"] = TenantSettingsPath;
                foreach (var tenant in tenants)
                {
                    plan.References.Add(tenant.Database.Parent);
                    foreach (var endpoint in tenant.PlainFields.Select(f => f.Value).OfType<EndpointReference>())
                    {
                        plan.References.Add(endpoint.Resource);
                    }
                }
            }
            if (resource is ValkeyContainerResource)
            {
                // The users' passwords reach Valkey as its ACL file, a Secret of their own (WriteValkeyAclAsync).
                foreach (var key in values.Keys.Where(k => k.StartsWith("VALKEY_PASSWORD_", StringComparison.Ordinal)).ToList())
                {
                    values.Remove(key);
                }
            }
            foreach (var (key, value) in values)
            {
                plan.Environment[key] = await RenderAsync(value, plan, cancellationToken);
            }
        }
        if (resource.TryGetAnnotationsOfType<CommandLineArgsCallbackAnnotation>(out var argCallbacks))
        {
            var args = new List<object>();
            var context = new CommandLineArgsCallbackContext(args, resource, cancellationToken) { ExecutionContext = executionContext };
            foreach (var callback in argCallbacks)
            {
                await callback.Callback(context);
            }
            foreach (var arg in args)
            {
                plan.Arguments.Add(await RenderAsync(arg, plan, cancellationToken));
            }
        }
        foreach (var parameter in plan.Environment.Values.Concat(plan.Arguments).SelectMany(v => v.Secrets))
        {
            _catalog.Use(parameter, resource.Name);
        }
        plan.References.Remove(resource);
        return plan;
    }

    /// <summary>The value as the pod sees it: services by their Kubernetes names and container ports, secret parameters as references.</summary>
    private async Task<Value> RenderAsync(object? value, Plan plan, CancellationToken cancellationToken)
    {
        switch (value)
        {
            case null:
                return Value.Literal("");
            case string text:
                return Value.Literal(text);
            case ParameterResource { Secret: true } secret:
                return new Value([secret]);
            case ParameterResource parameter:
                return Value.Literal(await parameter.GetValueAsync(cancellationToken) ?? "");
            case ConnectionStringReference reference:
                return await RenderAsync(reference.Resource, plan, cancellationToken);
            case TenantDatabaseResource database:
                plan.References.Add(database.Parent);
                return await RenderAsync(database.ConnectionStringExpression, plan, cancellationToken);
            case IResourceWithConnectionString withConnectionString:
                plan.References.Add(withConnectionString);
                return await RenderAsync(withConnectionString.ConnectionStringExpression, plan, cancellationToken);
            case EndpointReference { EndpointAnnotation.IsExternal: true, EndpointAnnotation.UriScheme: "http" or "https" } external:
                // What users open (links in mail, say): the address its Ingress serves.
                return Value.Literal($"{options.PublicScheme}://{external.Resource.Name}.{options.IngressDomain}");
            case EndpointReference endpoint:
                plan.References.Add(endpoint.Resource);
                return Value.Literal($"{endpoint.EndpointAnnotation.UriScheme}://{endpoint.Resource.Name}:{PortOf(endpoint)}");
            case EndpointReferenceExpression property:
                plan.References.Add(property.Endpoint.Resource);
                return Value.Literal(property.Property switch
                {
                    EndpointProperty.Host or EndpointProperty.IPV4Host => property.Endpoint.Resource.Name,
                    EndpointProperty.Port or EndpointProperty.TargetPort => PortOf(property.Endpoint),
                    EndpointProperty.HostAndPort => $"{property.Endpoint.Resource.Name}:{PortOf(property.Endpoint)}",
                    EndpointProperty.Scheme => property.Endpoint.EndpointAnnotation.UriScheme,
                    _ => $"{property.Endpoint.EndpointAnnotation.UriScheme}://{property.Endpoint.Resource.Name}:{PortOf(property.Endpoint)}",
                });
            case ReferenceExpression expression:
                // Each value provider is replaced by a marker, the format applied, then split back into parts.
                var rendered = new Value[expression.ValueProviders.Count];
                var markers = new object[rendered.Length];
                for (var i = 0; i < rendered.Length; i++)
                {
                    rendered[i] = await RenderAsync(expression.ValueProviders[i], plan, cancellationToken);
                    if (expression.StringFormats[i] == "uri" && rendered[i].IsLiteral)
                    {
                        rendered[i] = Value.Literal(Uri.EscapeDataString(rendered[i].Text));
                    }
                    markers[i] = $"\u0001{i.ToString(CultureInfo.InvariantCulture)}\u0001";
                }
                var formatted = string.Format(CultureInfo.InvariantCulture, expression.Format, markers);
                var parts = new List<object>();
                var pieces = formatted.Split('\u0001');
                for (var i = 0; i < pieces.Length; i++)
                {
                    if (i % 2 == 0)
                    {
                        if (pieces[i].Length > 0)
                        {
                            parts.Add(pieces[i]);
                        }
                    }
                    else
                    {
                        parts.AddRange(rendered[int.Parse(pieces[i], CultureInfo.InvariantCulture)].Parts);
                    }
                }
                // Adjacent literals join, so a value without secrets stays one literal.
                var joined = new List<object>();
                foreach (var part in parts)
                {
                    if (part is string s && joined.Count > 0 && joined[^1] is string previous)
                    {
                        joined[^1] = previous + s;
                    }
                    else
                    {
                        joined.Add(part);
                    }
                }
                return new Value(joined.Count == 0 ? [""] : joined);
            default:
                // Resolving an unknown value provider could write a secret into the output: refuse instead.
                throw new DistributedApplicationException(
                    $"{plan.Resource.Name}: a value of type {value.GetType().Name} cannot be published to Kubernetes without resolving it.");
        }
    }

    private static string PortOf(EndpointReference endpoint) =>
        (endpoint.EndpointAnnotation.TargetPort ?? (endpoint.Resource is ProjectResource ? ProjectHttpPort : endpoint.EndpointAnnotation.Port ?? 80))
            .ToString(CultureInfo.InvariantCulture);

    private List<object> Project(ProjectResource project, Plan plan, int tenantChunks)
    {
        var name = project.Name;
        var kind = KindOf(project);
        var environment = new Dictionary<string, Value>(plan.Environment, StringComparer.Ordinal)
        {
            ["HTTP_PORTS"] = Value.Literal(ProjectHttpPort.ToString(CultureInfo.InvariantCulture)),
            ["OTEL_SERVICE_NAME"] = Value.Literal(name),
        };
        environment.TryAdd("DOTNET_ENVIRONMENT", Value.Literal("Production"));
        environment.TryAdd("ASPNETCORE_FORWARDEDHEADERS_ENABLED", Value.Literal("true"));
        if (options.OtlpEndpoint is { } otlp)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = Value.Literal(otlp);
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = Value.Literal(options.OtlpProtocol);
        }
        var (plain, env) = Split(environment);
        if (options.OtlpEndpoint is not null)
        {
            env.Add(SecretEnv("OTEL_EXPORTER_OTLP_HEADERS", _catalog.Declared("otlp-headers"), optional: true));
        }

        var documents = new List<object> { ConfigMap($"{name}-config", name, plain) };
        var envFrom = new List<V1EnvFromSource> { new() { ConfigMapRef = new V1ConfigMapEnvSource { Name = $"{name}-config" } } };
        var mounts = new List<V1VolumeMount> { new() { Name = "tmp", MountPath = "/tmp" } };
        var volumes = new List<V1Volume> { new() { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() } };
        if (project.HasAnnotationOfType<TenantSettingsAnnotation>())
        {
            mounts.Add(new V1VolumeMount { Name = "tenant-settings", MountPath = TenantSettingsPath, ReadOnlyProperty = true });
            volumes.Add(new V1Volume
            {
                Name = "tenant-settings",
                Projected = new V1ProjectedVolumeSource
                {
                    Sources = [.. Enumerable.Range(0, tenantChunks).SelectMany(i => new[]
                    {
                        new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = $"tenant-settings-{i}" } },
                        new V1VolumeProjection { Secret = new V1SecretProjection { Name = SecretCatalog.TenantSecret(i) } },
                    })],
                },
            });
        }
        var asJob = project.HasAnnotationOfType<KubernetesJobAnnotation>();
        var container = new V1Container
        {
            Name = name,
            Image = ContainerImages.For(project, options),
            Ports = asJob ? null : [new V1ContainerPort { ContainerPort = ProjectHttpPort, Name = "http" }],
            EnvFrom = envFrom,
            Env = env.Count > 0 ? env : null,
            ReadinessProbe = asJob ? null : HttpProbe("/health", 3),
            LivenessProbe = asJob ? null : HttpProbe("/alive", 3),
            // Migrations and a search-language rebuild run before the app listens: give the start up to 5 minutes.
            StartupProbe = asJob ? null : HttpProbe("/alive", 30),
            Resources = Compute(name, kind),
            SecurityContext = ContainerSecurity(readOnlyRoot: true),
            VolumeMounts = mounts,
        };
        var initContainers = new List<V1Container>();
        if (project.TryGetLastAnnotation<DatabaseWaitAnnotation>(out var wait))
        {
            initContainers.Add(new V1Container
            {
                Name = "wait-for-database",
                Image = ContainerImages.For(wait.Provisioning, options),
                Args = ["wait"],
                EnvFrom = envFrom,
                Env = DatabaseOnly(env),
                Resources = Compute("wait-for-database", "wait-for-database"),
                SecurityContext = ContainerSecurity(readOnlyRoot: true),
                VolumeMounts = [new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
            });
        }
        var pod = new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Labels(name, kind) },
            Spec = new V1PodSpec
            {
                Containers = [container],
                InitContainers = initContainers.Count > 0 ? initContainers : null,
                Volumes = volumes,
                RestartPolicy = asJob ? "Never" : "Always",
                SecurityContext = PodSecurity(AppUser),
                AutomountServiceAccountToken = false,
            },
        };
        if (asJob)
        {
            documents.Add(new V1Job
            {
                ApiVersion = "batch/v1",
                Kind = "Job",
                Metadata = Meta(name, kind),
                Spec = new V1JobSpec { Template = pod, BackoffLimit = 4 },
            });
            documents.Add(Policy(plan, kind, ingressPorts: []));
            return documents;
        }
        var scaled = project.TryGetLastAnnotation<BacklogScalingAnnotation>(out var scaling);
        var replicas = project.TryGetLastAnnotation<ReplicaAnnotation>(out var replica) ? replica.Replicas : 1;
        documents.Add(new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Meta(name, kind),
            // Under KEDA the replicas are the autoscaler's: an apply must not reset them.
            Spec = new V1DeploymentSpec { Replicas = scaled ? null : replicas, Selector = Selector(name), Template = pod },
        });
        documents.Add(Service(name, kind, [new V1ServicePort { Port = ProjectHttpPort, Name = "http", TargetPort = "http" }]));
        documents.Add(new V1PodDisruptionBudget
        {
            ApiVersion = "policy/v1",
            Kind = "PodDisruptionBudget",
            Metadata = Meta(name, kind),
            Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = options.MaxUnavailable, Selector = Selector(name) },
        });
        var external = project.TryGetEndpoints(out var endpoints) && endpoints.Any(e => e.IsExternal && e.UriScheme is "http" or "https");
        if (external)
        {
            documents.Add(Ingress(name, kind));
        }
        if (scaled)
        {
            documents.Add(ScaledObjectFor(name, kind, scaling!));
        }
        var ingress = new List<V1NetworkPolicyIngressRule>();
        if (external)
        {
            ingress.Add(new V1NetworkPolicyIngressRule
            {
                FromProperty = [new V1NetworkPolicyPeer { NamespaceSelector = options.IngressNamespace is { } ns ? NamespaceSelector(ns) : new V1LabelSelector() }],
                Ports = [new V1NetworkPolicyPort { Port = ProjectHttpPort, Protocol = "TCP" }],
            });
        }
        if (scaled)
        {
            ingress.Add(new V1NetworkPolicyIngressRule
            {
                FromProperty = [new V1NetworkPolicyPeer { NamespaceSelector = NamespaceSelector(options.KedaNamespace) }],
                Ports = [new V1NetworkPolicyPort { Port = ProjectHttpPort, Protocol = "TCP" }],
            });
        }
        documents.Add(Policy(plan, kind, ingress));
        return documents;
    }

    private async Task<List<object>> ContainerAsync(ContainerResource resource, Plan plan, List<IResource> referencedBy, CancellationToken cancellationToken)
    {
        var name = resource.Name;
        var kind = name;
        if (!resource.TryGetContainerImageName(out var image))
        {
            throw new InvalidOperationException($"Container '{name}' has no image to publish.");
        }
        var environment = new Dictionary<string, Value>(plan.Environment, StringComparer.Ordinal);
        var user = ContainerUsers.FirstOrDefault(u => image.Contains(u.Key, StringComparison.Ordinal)).Value is > 0 and var known ? known : 65534;
        if (resource is Aspire.Hosting.ApplicationModel.PostgresServerResource)
        {
            // A subdirectory of the volume: initdb wants an empty directory it owns, the volume's root is the fsGroup's.
            environment["PGDATA"] = Value.Literal("/var/lib/postgresql/data/pgdata");
        }
        var (plain, env) = Split(environment);
        env.InsertRange(0, plain.Select(e => new V1EnvVar { Name = e.Key, Value = e.Value }));
        var endpoints = resource.TryGetEndpoints(out var declared) ? declared.ToList() : [];
        var ports = endpoints.Select(e => new V1ContainerPort { ContainerPort = e.TargetPort ?? e.Port ?? 80, Name = e.Name }).ToList();
        var container = new V1Container
        {
            Name = name,
            Image = image,
            Command = resource.Entrypoint is { } entrypoint ? [entrypoint] : null,
            Args = plan.Arguments.Count > 0 ? [.. plan.Arguments.Select(a => Compose(a, env))] : null,
            Env = env,
            Ports = ports,
            ReadinessProbe = ports.Count > 0 ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 5 } : null,
            LivenessProbe = ports.Count > 0 ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 10, InitialDelaySeconds = 30 } : null,
            Resources = Compute(name, kind),
            SecurityContext = ContainerSecurity(readOnlyRoot: false),
            VolumeMounts = [],
        };
        var documents = new List<object>();
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
                        Resources = new V1VolumeResourceRequirements
                        {
                            Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(options.Storage.GetValueOrDefault(name, "2Gi")) },
                        },
                    },
                });
            }
            else
            {
                // A bind-mounted directory of the AppHost (a script, say) travels as a ConfigMap of its files.
                var files = Directory.Exists(mount.Source)
                    ? Directory.GetFiles(mount.Source!).Order(StringComparer.Ordinal).ToDictionary(file => Path.GetFileName(file), File.ReadAllText)
                    : new Dictionary<string, string> { [Path.GetFileName(mount.Source!)] = await File.ReadAllTextAsync(mount.Source!, cancellationToken) };
                documents.Add(ConfigMap($"{name}-{volume}", name, files));
                podVolumes.Add(new V1Volume { Name = volume, ConfigMap = new V1ConfigMapVolumeSource { Name = $"{name}-{volume}", DefaultMode = Convert.ToInt32("755", 8) } });
            }
        }
        if (resource is ValkeyContainerResource valkey)
        {
            ValkeyPod(valkey, container, podVolumes, ports);
        }
        var pod = new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Labels(name, kind) },
            Spec = new V1PodSpec
            {
                Containers = [container],
                Volumes = podVolumes.Count > 0 ? podVolumes : null,
                SecurityContext = PodSecurity(user),
                AutomountServiceAccountToken = false,
            },
        };
        documents.Add(claims.Count > 0
            ? new V1StatefulSet
            {
                ApiVersion = "apps/v1",
                Kind = "StatefulSet",
                Metadata = Meta(name, kind),
                Spec = new V1StatefulSetSpec { ServiceName = name, Replicas = 1, Selector = Selector(name), Template = pod, VolumeClaimTemplates = claims },
            }
            : new V1Deployment
            {
                ApiVersion = "apps/v1",
                Kind = "Deployment",
                Metadata = Meta(name, kind),
                Spec = new V1DeploymentSpec { Replicas = 1, Selector = Selector(name), Template = pod },
            });
        if (ports.Count > 0)
        {
            documents.Add(Service(name, kind, [.. ports.Select(p => new V1ServicePort { Port = p.ContainerPort, Name = p.Name, TargetPort = p.Name })]));
        }
        // Only what references it may reach it, on its own ports.
        var ingress = referencedBy.Count == 0 || ports.Count == 0 ? new List<V1NetworkPolicyIngressRule>() :
        [
            new V1NetworkPolicyIngressRule
            {
                // By component (web, workers, ...), not by name: a policy listing thousands of web apps would outgrow its object.
                FromProperty = [.. referencedBy.Select(r => r is ProjectResource p ? KindOf(p) : r.Name).Distinct().Order(StringComparer.Ordinal)
                    .Select(kind => new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app.kubernetes.io/component"] = kind } } })],
                Ports = [.. ports.Select(p => new V1NetworkPolicyPort { Port = p.ContainerPort, Protocol = "TCP" })],
            },
        ];
        documents.Add(Policy(plan, kind, ingress));
        if (resource is ValkeyContainerResource clustered && clustered.TryGetLastAnnotation<ValkeyClusterAnnotation>(out var cluster))
        {
            ValkeyCluster(clustered, cluster, documents, container, pod);
        }
        return documents;
    }

    /// <summary>
    /// The users the infrastructure images run their servers as, by image: valkey and postgres 999, Elasticsearch 1000 (the
    /// official images' own users, who own their data directories); anything else the unprivileged 65534.
    /// </summary>
    private static readonly Dictionary<string, long> ContainerUsers = new(StringComparer.Ordinal)
    {
        ["/valkey/valkey:"] = 999,
        ["/library/postgres:"] = 999,
        ["/elasticsearch/elasticsearch:"] = 1000,
    };

    /// <summary>Plain values for the ConfigMap; secret ones (and values composed from them) as <c>env</c> entries.</summary>
    private (Dictionary<string, string> Plain, List<V1EnvVar> Env) Split(Dictionary<string, Value> environment)
    {
        var plain = new Dictionary<string, string>(StringComparer.Ordinal);
        var env = new List<V1EnvVar>();
        foreach (var (key, value) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (value.IsLiteral)
            {
                plain[key] = value.Text;
            }
            else if (value.WholeSecret is { } parameter)
            {
                env.Add(SecretEnv(key, _catalog.For(parameter)));
            }
            else
            {
                env.Add(new V1EnvVar { Name = key, Value = Compose(value, env) });
            }
        }
        // The helpers a composed value names must come before it in the list.
        return (plain, [.. env.Where(e => e.Name.StartsWith("SECRET_", StringComparison.Ordinal)), .. env.Where(e => !e.Name.StartsWith("SECRET_", StringComparison.Ordinal))]);
    }

    /// <summary>A value with secrets in it, as Kubernetes composes it: <c>$(SECRET_...)</c> for each, defined in <paramref name="env"/>.</summary>
    private string Compose(Value value, List<V1EnvVar> env)
    {
        var text = new StringBuilder();
        foreach (var part in value.Parts)
        {
            if (part is string literal)
            {
                text.Append(literal.Replace("$(", "$$(", StringComparison.Ordinal));
                continue;
            }
            var key = _catalog.For((ParameterResource)part);
            if (!env.Any(e => e.Name == key.HelperVariable))
            {
                env.Add(SecretEnv(key.HelperVariable, key));
            }
            text.Append("$(").Append(key.HelperVariable).Append(')');
        }
        return text.ToString();
    }

    /// <summary>The database settings of <paramref name="env"/> and the secrets they are composed of: all the wait needs.</summary>
    private static List<V1EnvVar> DatabaseOnly(List<V1EnvVar> env)
    {
        var database = env.Where(e => e.Name is "ConnectionStrings__db" or "DATABASE_URL").ToList();
        var helpers = env.Where(e => database.Any(d => d.Value?.Contains($"$({e.Name})", StringComparison.Ordinal) == true));
        return [.. helpers, .. database];
    }

    private static V1EnvVar SecretEnv(string name, SecretKey key, bool optional = false) => new()
    {
        Name = name,
        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = key.Secret, Key = key.Key, Optional = optional ? true : null } },
    };

    /// <summary>
    /// The tenants of one chunk without their secrets: <c>databaseUrl</c> names the role but no password (that is the
    /// Secret key <c>TENANT_&lt;ID&gt;_DATABASE_PASSWORD</c>), <c>baseUrl</c> is the public address of the tenant's web app.
    /// </summary>
    private async Task<string> TenantSettingsJsonAsync(IEnumerable<TenantSettingsEntry> tenants, CancellationToken cancellationToken)
    {
        var plan = new Plan(new TenantSettingsResource());
        var settings = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        async Task<string> PlainAsync(object value, string what)
        {
            var rendered = await RenderAsync(value, plan, cancellationToken);
            return rendered.IsLiteral ? rendered.Text : throw new DistributedApplicationException($"{what} holds a secret, which the published tenant settings cannot.");
        }
        foreach (var tenant in tenants)
        {
            var fields = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["databaseUrl"] = await PlainAsync(tenant.Database.UriWithoutPasswordExpression, $"{tenant.Id}'s databaseUrl"),
                ["baseUrl"] = await PlainAsync(tenant.BaseUrl, $"{tenant.Id}'s baseUrl"),
            };
            foreach (var (field, value) in tenant.PlainFields)
            {
                fields[field] = await PlainAsync(value, $"{tenant.Id}'s {field}");
            }
            settings[tenant.Id] = fields;
        }
        return JsonSerializer.Serialize(settings);
    }

    private ScaledObject ScaledObjectFor(string name, string kind, BacklogScalingAnnotation scaling) => new()
    {
        Metadata = Meta(name, kind),
        Spec = new ScaledObjectSpec
        {
            ScaleTargetRef = new ScaleTarget { Name = name },
            MinReplicaCount = options.Workers.MinReplicas,
            MaxReplicaCount = options.Workers.MaxReplicas,
            PollingInterval = options.Workers.PollingSeconds,
            CooldownPeriod = options.Workers.CooldownSeconds,
            // One trigger per queue, each a total over all tenants: KEDA takes the busiest queue's replica count.
            Triggers = [.. scaling.Queues.Select(queue => new ScaleTrigger
            {
                Name = $"backlog-{queue}",
                Metadata = new Dictionary<string, string>
                {
                    ["url"] = $"http://{name}.{options.Namespace}.svc.cluster.local:{ProjectHttpPort.ToString(CultureInfo.InvariantCulture)}{BacklogScalingAnnotation.Path}",
                    ["format"] = "json",
                    ["valueLocation"] = $"waiting.{queue}",
                    ["targetValue"] = options.Workers.BacklogPerReplica.ToString(CultureInfo.InvariantCulture),
                },
            })],
        },
    };

    /// <summary>
    /// Only what the workload needs: DNS; the resources it references, on their ports; the telemetry collector; the
    /// external ports it declared (<see cref="ExternalEgressAnnotation"/>). In: what the caller allows.
    /// </summary>
    private V1NetworkPolicy Policy(Plan plan, string kind, List<V1NetworkPolicyIngressRule> ingressPorts)
    {
        var egress = new List<V1NetworkPolicyEgressRule>
        {
            new() { Ports = [new V1NetworkPolicyPort { Port = 53, Protocol = "UDP" }, new V1NetworkPolicyPort { Port = 53, Protocol = "TCP" }] },
        };
        foreach (var target in plan.References.Where(r => r is IResourceWithEndpoints).OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            var ports = ((IResourceWithEndpoints)target).TryGetEndpoints(out var endpoints)
                ? endpoints.Select(e => e.TargetPort ?? (target is ProjectResource ? ProjectHttpPort : e.Port)).OfType<int>().Distinct().ToList()
                : [];
            if (ports.Count == 0)
            {
                continue;
            }
            egress.Add(new V1NetworkPolicyEgressRule
            {
                To = [new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = target.Name } } }],
                Ports = [.. ports.Select(p => new V1NetworkPolicyPort { Port = p, Protocol = "TCP" })],
            });
        }
        var external = plan.Resource.Annotations.OfType<ExternalEgressAnnotation>().Select(a => a.Port).ToList();
        if (options.OtlpEndpoint is { } otlp)
        {
            external.Add(new Uri(otlp).Port);
        }
        if (external.Count > 0)
        {
            egress.Add(new V1NetworkPolicyEgressRule { Ports = [.. external.Distinct().Order().Select(p => new V1NetworkPolicyPort { Port = p, Protocol = "TCP" })] });
        }
        return new V1NetworkPolicy
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "NetworkPolicy",
            Metadata = Meta(plan.Resource.Name, kind),
            Spec = new V1NetworkPolicySpec
            {
                PodSelector = Selector(plan.Resource.Name),
                PolicyTypes = ["Ingress", "Egress"],
                Ingress = ingressPorts,
                Egress = egress,
            },
        };
    }

    private static V1LabelSelector NamespaceSelector(string name) =>
        new() { MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = name } };

    private V1Ingress Ingress(string name, string kind)
    {
        var host = $"{name}.{options.IngressDomain}";
        return new V1Ingress
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "Ingress",
            Metadata = Meta(name, kind),
            Spec = new V1IngressSpec
            {
                IngressClassName = options.IngressClass,
                Tls = options.IngressTlsSecret is { } tls ? [new V1IngressTLS { Hosts = [host], SecretName = tls }] : null,
                Rules =
                [
                    new V1IngressRule
                    {
                        Host = host,
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
    }

    private V1Service Service(string name, string kind, List<V1ServicePort> ports) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Meta(name, kind),
        Spec = new V1ServiceSpec { Selector = SelectorLabels(name), Ports = ports, Type = "ClusterIP" },
    };

    private V1Namespace Namespace() => new()
    {
        ApiVersion = "v1",
        Kind = "Namespace",
        Metadata = new V1ObjectMeta
        {
            Name = options.Namespace,
            // Every pod here meets the 'restricted' Pod Security Standard; the cluster warns about any that does not.
            Labels = new Dictionary<string, string>
            {
                ["app.kubernetes.io/part-of"] = PartOf,
                ["pod-security.kubernetes.io/warn"] = "restricted",
                ["pod-security.kubernetes.io/audit"] = "restricted",
            },
        },
    };

    private V1ConfigMap ConfigMap(string name, string app, Dictionary<string, string> data) =>
        new() { ApiVersion = "v1", Kind = "ConfigMap", Metadata = Meta(name, app), Data = data };

    private static V1Probe HttpProbe(string path, int failureThreshold) => new()
    {
        HttpGet = new V1HTTPGetAction { Port = "http", Path = path },
        PeriodSeconds = 10,
        TimeoutSeconds = 3,
        FailureThreshold = failureThreshold,
    };

    private static V1PodSecurityContext PodSecurity(long user) => new()
    {
        RunAsNonRoot = true,
        RunAsUser = user,
        RunAsGroup = user,
        FsGroup = user,
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    private static V1SecurityContext ContainerSecurity(bool readOnlyRoot) => new()
    {
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = readOnlyRoot ? true : null,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
    };

    /// <summary>Requests and limits: the resource's own settings, else its kind's, else the defaults below.</summary>
    private V1ResourceRequirements Compute(string name, string kind)
    {
        var (cpu, memory, memoryLimit) = kind switch
        {
            "workers" => ("250m", "256Mi", "1Gi"),
            "postgres" => ("250m", "512Mi", "2Gi"),
            "valkey" => ("100m", "256Mi", "1Gi"),
            "scheduler" or "wait-for-database" => ("50m", "96Mi", "256Mi"),
            "smtp" => ("50m", "64Mi", "128Mi"),
            _ => ("100m", "256Mi", "512Mi"),
        };
        var own = options.Resources.GetValueOrDefault(name);
        var byKind = options.Resources.GetValueOrDefault(kind);
        var requests = new Dictionary<string, ResourceQuantity>
        {
            ["cpu"] = new(own?.CpuRequest ?? byKind?.CpuRequest ?? cpu),
            ["memory"] = new(own?.MemoryRequest ?? byKind?.MemoryRequest ?? memory),
        };
        var limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new(own?.MemoryLimit ?? byKind?.MemoryLimit ?? memoryLimit) };
        if ((own?.CpuLimit ?? byKind?.CpuLimit) is { } cpuLimit)
        {
            limits["cpu"] = new(cpuLimit);
        }
        return new V1ResourceRequirements { Requests = requests, Limits = limits };
    }

    /// <summary>web (every tenant's web app), workers, scheduler, provisioning: the project's name; a container's own name.</summary>
    private static string KindOf(ProjectResource project) =>
        Path.GetFileNameWithoutExtension(project.GetProjectMetadata().ProjectPath).ToLowerInvariant();

    private V1ObjectMeta Meta(string name, string kind) => new() { Name = name, NamespaceProperty = options.Namespace, Labels = Labels(name, kind) };

    private static V1LabelSelector Selector(string name) => new() { MatchLabels = SelectorLabels(name) };

    private static Dictionary<string, string> SelectorLabels(string name) => new()
    {
        ["app.kubernetes.io/name"] = name,
        ["app.kubernetes.io/part-of"] = PartOf,
    };

    private static Dictionary<string, string> Labels(string name, string kind) => new()
    {
        ["app.kubernetes.io/name"] = name,
        ["app.kubernetes.io/component"] = kind,
        ["app.kubernetes.io/part-of"] = PartOf,
    };

    public void LogGaps()
    {
        if (options.OtlpEndpoint is null)
        {
            logger.LogWarning("No --Kubernetes:OtlpEndpoint: the services' traces, logs and metrics will go nowhere.");
        }
        if (options.Smtp.Host is null && !options.DevelopmentSmtp)
        {
            logger.LogWarning("No --Kubernetes:Smtp:Host: the workers have no SMTP server and every e-mail job will wait for one (set it, or --Kubernetes:DevelopmentSmtp true for a mail catcher).");
        }
    }
}
