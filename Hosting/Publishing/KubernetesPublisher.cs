using System.Text;
using k8s;
using k8s.Models;

namespace Hosting.Publishing;

/// <summary>
/// Writes plain Kubernetes manifests, one file per resource: projects as Deployments (or a Job) with a Service,
/// Valkey and PostgreSQL as StatefulSets with volumes, the SMTP server as a Deployment. Every value that carries
/// a secret goes to a Secret, never a ConfigMap. Probes use <c>/health</c> (readiness) and <c>/alive</c> (liveness).
/// Project images are expected as <c>&lt;project&gt;:latest</c> (lower case) (e.g. <c>dotnet publish /t:PublishContainer</c>).
/// </summary>
internal static class KubernetesPublisher
{
    private const int HttpPort = 8080;

    public static void Write(IReadOnlyList<IResource> resources, string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var (name, documents) in Create(resources))
        {
            var text = new StringBuilder();
            foreach (var document in documents)
            {
                text.Append("---\n").Append(KubernetesYaml.Serialize(document).TrimEnd('\n')).Append('\n');
            }
            File.WriteAllText(Path.Combine(directory, name + ".yaml"), text.ToString());
        }
    }

    public static IEnumerable<(string File, List<IKubernetesObject> Documents)> Create(IReadOnlyList<IResource> resources)
    {
        foreach (var resource in resources)
        {
            var documents = resource switch
            {
                ProjectResource project => Project(project),
                ValkeyResource valkey => Valkey(valkey),
                PostgresServerResource postgres => Postgres(postgres),
                ContainerResource container => Container(container),
                _ => null, // parameters and databases live inside their consumers' Secrets and the server's init script
            };
            if (documents is not null)
            {
                yield return (resource.Name, documents);
            }
        }
    }

    private static List<IKubernetesObject> Project(ProjectResource project)
    {
        var documents = new List<IKubernetesObject>();
        var plain = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://+:{HttpPort}",
            ["OTEL_SERVICE_NAME"] = project.Name,
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
        var secret = new Dictionary<string, string>();
        foreach (var (name, value) in project.Environment)
        {
            (value.IsSecret ? secret : plain)[name] = value.Render(ValueTarget.Kubernetes);
        }
        var envFrom = new List<V1EnvFromSource> { new() { ConfigMapRef = new V1ConfigMapEnvSource { Name = $"{project.Name}-config" } } };
        documents.Add(new V1ConfigMap { ApiVersion = "v1", Kind = "ConfigMap", Metadata = Meta($"{project.Name}-config", project.Name), Data = plain });
        if (secret.Count > 0)
        {
            documents.Add(Secret($"{project.Name}-secrets", project.Name, secret));
            envFrom.Add(new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = $"{project.Name}-secrets" } });
        }
        var container = new V1Container
        {
            Name = project.Name,
            Image = $"{project.AssemblyName.ToLowerInvariant()}:latest",
            ImagePullPolicy = "IfNotPresent",
            Ports = [new V1ContainerPort { ContainerPort = HttpPort, Name = "http" }],
            EnvFrom = envFrom,
            ReadinessProbe = HttpProbe("/health"),
            LivenessProbe = HttpProbe("/alive"),
            Resources = Requests("100m", "128Mi", "512Mi"),
        };
        var pod = new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Labels(project.Name) },
            Spec = new V1PodSpec { Containers = [container], RestartPolicy = project.PublishAsJob ? "OnFailure" : "Always" },
        };
        if (project.PublishAsJob)
        {
            documents.Add(new V1Job
            {
                ApiVersion = "batch/v1",
                Kind = "Job",
                Metadata = Meta(project.Name, project.Name),
                Spec = new V1JobSpec { Template = pod, BackoffLimit = 6, Parallelism = project.Replicas },
            });
            return documents;
        }
        documents.Add(new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Meta(project.Name, project.Name),
            Spec = new V1DeploymentSpec { Replicas = project.Replicas, Selector = new V1LabelSelector { MatchLabels = Labels(project.Name) }, Template = pod },
        });
        documents.Add(Service(project.Name, [new V1ServicePort { Port = HttpPort, Name = "http", TargetPort = "http" }]));
        return documents;
    }

    private static List<IKubernetesObject> Valkey(ValkeyResource valkey)
    {
        var port = valkey.PrimaryEndpoint.KubernetesPort;
        var container = new V1Container
        {
            Name = "valkey",
            Image = $"{valkey.Image}:{valkey.Tag}",
            Command = ["valkey-server"],
            Args = ["--requirepass", "$(VALKEY_PASSWORD)", "--appendonly", "yes", "--dir", "/data"],
            Env = [SecretEnv("VALKEY_PASSWORD", $"{valkey.Name}-secrets", "password")],
            Ports = [new V1ContainerPort { ContainerPort = port, Name = "tcp" }],
            VolumeMounts = [new V1VolumeMount { MountPath = "/data", Name = "data" }],
            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "tcp" }, PeriodSeconds = 5 },
            LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "tcp" }, PeriodSeconds = 10 },
            Resources = Requests("100m", "128Mi", "512Mi"),
        };
        return
        [
            Secret($"{valkey.Name}-secrets", valkey.Name, new() { ["password"] = valkey.Password.Render(ValueTarget.Kubernetes) }),
            StatefulSet(valkey.Name, container, "1Gi"),
            Service(valkey.Name, [new V1ServicePort { Port = port, Name = "tcp", TargetPort = "tcp" }]),
        ];
    }

    private static List<IKubernetesObject> Postgres(PostgresServerResource postgres)
    {
        var port = postgres.PrimaryEndpoint.KubernetesPort;
        // Databases and their owner roles are created on first start by the image's init scripts; the script holds passwords, so it is a Secret.
        var init = new StringBuilder();
        foreach (var database in postgres.Databases)
        {
            if (database.OwnerRole is { } role && database.OwnerPassword is { } password)
            {
                init.Append("CREATE ROLE \"").Append(role).Append("\" WITH LOGIN PASSWORD '").Append(password.Render(ValueTarget.Kubernetes).Replace("'", "''", StringComparison.Ordinal)).Append("';\n");
                init.Append("CREATE DATABASE \"").Append(database.DatabaseName).Append("\" OWNER \"").Append(role).Append("\";\n");
                init.Append("REVOKE CONNECT, TEMPORARY ON DATABASE \"").Append(database.DatabaseName).Append("\" FROM PUBLIC;\n");
            }
            else
            {
                init.Append("CREATE DATABASE \"").Append(database.DatabaseName).Append("\";\n");
            }
        }
        var container = new V1Container
        {
            Name = "postgres",
            Image = $"{postgres.Image}:{postgres.Tag}",
            Env =
            [
                new V1EnvVar { Name = "POSTGRES_USER", Value = PostgresServerResource.Superuser },
                SecretEnv("POSTGRES_PASSWORD", $"{postgres.Name}-secrets", "password"),
                new V1EnvVar { Name = "POSTGRES_HOST_AUTH_METHOD", Value = "scram-sha-256" },
                new V1EnvVar { Name = "PGDATA", Value = "/var/lib/postgresql/data/pgdata" },
            ],
            Ports = [new V1ContainerPort { ContainerPort = port, Name = "tcp" }],
            VolumeMounts = [new V1VolumeMount { MountPath = "/var/lib/postgresql/data", Name = "data" }, new V1VolumeMount { MountPath = "/docker-entrypoint-initdb.d", Name = "init", ReadOnlyProperty = true }],
            ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["pg_isready", "-U", PostgresServerResource.Superuser] }, PeriodSeconds = 5 },
            LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "tcp" }, PeriodSeconds = 10 },
            Resources = Requests("250m", "256Mi", "1Gi"),
        };
        var statefulSet = StatefulSet(postgres.Name, container, "5Gi");
        statefulSet.Spec.Template.Spec.Volumes = [new V1Volume { Name = "init", Secret = new V1SecretVolumeSource { SecretName = $"{postgres.Name}-init" } }];
        return
        [
            Secret($"{postgres.Name}-secrets", postgres.Name, new() { ["password"] = postgres.Password.Render(ValueTarget.Kubernetes) }),
            Secret($"{postgres.Name}-init", postgres.Name, new() { ["01-databases.sql"] = init.ToString() }),
            statefulSet,
            Service(postgres.Name, [new V1ServicePort { Port = port, Name = "tcp", TargetPort = "tcp" }]),
        ];
    }

    private static List<IKubernetesObject> Container(ContainerResource resource)
    {
        var ports = resource.Endpoints.Select(e => new V1ContainerPort { ContainerPort = e.TargetPort ?? 80, Name = e.Name }).ToList();
        var secret = resource.Environment.Where(e => e.Value.IsSecret).ToDictionary(e => e.Key, e => e.Value.Render(ValueTarget.Kubernetes));
        var container = new V1Container
        {
            Name = resource.Name,
            Image = $"{resource.Image}:{resource.Tag}",
            Args = resource.Args.Select(a => a.Render(ValueTarget.Kubernetes)).ToList(),
            Env = resource.Environment.Where(e => !e.Value.IsSecret).Select(e => new V1EnvVar { Name = e.Key, Value = e.Value.Render(ValueTarget.Kubernetes) })
                .Concat(secret.Keys.Select(k => SecretEnv(k, $"{resource.Name}-secrets", k))).ToList(),
            Ports = ports,
            ReadinessProbe = ports.Count > 0 ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 5 } : null,
            LivenessProbe = ports.Count > 0 ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 10 } : null,
            Resources = Requests("50m", "64Mi", "256Mi"),
        };
        var documents = new List<IKubernetesObject>();
        if (secret.Count > 0)
        {
            documents.Add(Secret($"{resource.Name}-secrets", resource.Name, secret));
        }
        documents.Add(new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Meta(resource.Name, resource.Name),
            Spec = new V1DeploymentSpec
            {
                Replicas = resource.Replicas,
                Selector = new V1LabelSelector { MatchLabels = Labels(resource.Name) },
                Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = Labels(resource.Name) }, Spec = new V1PodSpec { Containers = [container] } },
            },
        });
        if (ports.Count > 0)
        {
            documents.Add(Service(resource.Name, ports.Select(p => new V1ServicePort { Port = p.ContainerPort, Name = p.Name, TargetPort = p.Name }).ToList()));
        }
        return documents;
    }

    private static V1StatefulSet StatefulSet(string name, V1Container container, string storage) => new()
    {
        ApiVersion = "apps/v1",
        Kind = "StatefulSet",
        Metadata = Meta(name, name),
        Spec = new V1StatefulSetSpec
        {
            ServiceName = name,
            Replicas = 1,
            Selector = new V1LabelSelector { MatchLabels = Labels(name) },
            Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = Labels(name) }, Spec = new V1PodSpec { Containers = [container] } },
            VolumeClaimTemplates =
            [
                new V1PersistentVolumeClaim
                {
                    Metadata = new V1ObjectMeta { Name = "data" },
                    Spec = new V1PersistentVolumeClaimSpec
                    {
                        AccessModes = ["ReadWriteOnce"],
                        Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(storage) } },
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

    private static V1Secret Secret(string name, string app, Dictionary<string, string> values) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Metadata = Meta(name, app),
        Type = "Opaque",
        StringData = values,
    };

    private static V1EnvVar SecretEnv(string name, string secret, string key) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Key = key, Name = secret } } };

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
