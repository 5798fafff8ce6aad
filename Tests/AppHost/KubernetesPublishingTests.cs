using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.AppHost;

/// <summary>
/// <c>--publisher kubernetes --output-path DIR</c>, run as an operator runs it: what DIR holds, read as if about to apply
/// it. Each run has a home folder of the test's, whose user secrets hold values the output must never contain.
/// </summary>
public sealed class KubernetesPublishingTests
{
    private const string UserSecretsId = "multi-tenant-jobs-apphost";

    /// <summary>Publishes <paramref name="tenants"/> with every secret parameter set, in user secrets and the environment.</summary>
    private sealed class Published : IDisposable
    {
        private readonly AppHostScope _scope = AppHostScope.Create();

        public string Directory => Path.Combine(_scope.Root, "k8s");

        public string Home => Path.Combine(_scope.Root, "home");

        public string Root => _scope.Root;

        /// <summary>Secret parameter name -> the value this test gave it.</summary>
        public Dictionary<string, string> Secrets { get; } = new(StringComparer.Ordinal);

        public AppHostProcess.Result Result { get; private set; } = new(-1, "", "");

        public static async Task<Published> RunAsync(IEnumerable<string> tenants, params string[] arguments)
        {
            var published = new Published();
            var ids = tenants.ToList();
            foreach (var name in ids.SelectMany(id => new[] { $"admin-password-{id}", $"db-password-{id}", $"signing-key-{id}", $"valkey-password-web-{id}" })
                .Concat(["valkey-password", "valkey-password-workers", "valkey-password-scheduler", "postgres-password", "smtp-password"]))
            {
                published.Secrets[name] = "S3cr3t" + Guid.NewGuid().ToString("N");
            }
            // Most in the AppHost's user secrets (as `dotnet user-secrets set` keeps them), one in the environment.
            var store = Path.Combine(published.Home, ".microsoft", "usersecrets", UserSecretsId);
            System.IO.Directory.CreateDirectory(store);
            await File.WriteAllTextAsync(Path.Combine(store, "secrets.json"),
                JsonSerializer.Serialize(published.Secrets.Where(s => s.Key != "valkey-password").ToDictionary(s => "Parameters:" + s.Key, s => s.Value)));
            var tenantsFile = published._scope.WriteTenants([.. ids]);
            published.Result = await AppHostProcess.RunAsync(
                new Dictionary<string, string> { ["HOME"] = published.Home, ["Parameters__valkey-password"] = published.Secrets["valkey-password"] },
                ["--publisher", "kubernetes", "--output-path", published.Directory, "--AppHost:Tenants", tenantsFile, .. arguments]);
            Assert.True(published.Result.ExitCode == 0, published.Result.Output + published.Result.Error);
            return published;
        }

        public Dictionary<string, List<object>> Documents() =>
            System.IO.Directory.GetFiles(Directory, "*.yaml").ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => KubernetesYaml.LoadAllFromString(File.ReadAllText(f), Kinds));

        public void Dispose() => _scope.Dispose();
    }

    /// <summary>KEDA's kind, which KubernetesClient does not know.</summary>
    private static readonly Dictionary<string, Type> Kinds = new() { ["keda.sh/v1alpha1/ScaledObject"] = typeof(global::Hosting.Publishing.ScaledObject) };

    private static readonly string Repository = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Parent!.Parent!.Parent!.FullName;

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string input, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output + await error);
    }

    /// <summary>eng/k8s-validate (kubernetes-models and KEDA's schemas, installed by eng/prerequisites.sh).</summary>
    private static Task<(int ExitCode, string Output)> ValidateAsync(string path, string input = "")
    {
        var validator = Path.Combine(Repository, "eng", "k8s-validate");
        Assert.True(System.IO.Directory.Exists(Path.Combine(validator, "node_modules")), $"The schema validator is not installed: run eng/prerequisites.sh (npm ci in {validator}).");
        return RunAsync("node", input, Path.Combine(validator, "validate.mjs"), path);
    }

    private static Task<(int ExitCode, string Output)> SecretsAsync(Published published, params string[] arguments) =>
        RunAsync("sh", "", [Path.Combine(published.Directory, "secrets", "secrets.sh"), .. arguments]);

    private static int PortOf(V1NetworkPolicyPort port) => int.Parse(port.Port.Value, System.Globalization.CultureInfo.InvariantCulture);

    private static IEnumerable<(string File, string Text)> AllFiles(string directory) =>
        System.IO.Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Select(f => (f, File.ReadAllText(f)));

    [Fact]
    public async Task No_value_of_any_secret_parameter_is_anywhere_in_the_output()
    {
        using var published = await Published.RunAsync(["tenant-a", "tenant-b", "tenant-c"], "--Kubernetes:Smtp:Host", "smtp.example.com", "--Kubernetes:Smtp:Username", "jobs");

        var files = AllFiles(published.Directory).ToList();
        Assert.NotEmpty(files);
        foreach (var (name, value) in published.Secrets)
        {
            Assert.DoesNotContain(files, f => f.Text.Contains(value, StringComparison.Ordinal));
        }
        Assert.False(File.Exists(Path.Combine(published.Directory, "secrets", "secrets.env")));
        // Every one of them is a key the operator is asked for instead.
        var example = File.ReadAllText(Path.Combine(published.Directory, "secrets", "secrets.env.example"));
        Assert.All(published.Secrets.Keys, name => Assert.Contains(name.StartsWith("db-password-", StringComparison.Ordinal)
            ? $"(AppHost parameter {name})" : name.StartsWith("signing-key-", StringComparison.Ordinal) ? $"(AppHost parameter {name})" : $"\n{name}=\n", example, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_document_is_valid_against_the_Kubernetes_and_KEDA_schemas_and_so_are_the_Secrets_made_from_the_keys()
    {
        using var published = await Published.RunAsync(["tenant-a", "tenant-b", "tenant-c"], "--Kubernetes:Namespace", "jobs",
            "--Kubernetes:IngressClass", "nginx", "--Kubernetes:IngressTlsSecret", "jobs-tls", "--Kubernetes:OtlpEndpoint", "http://collector.observability:4317",
            "--Kubernetes:Smtp:Host", "smtp.example.com", "--Kubernetes:Smtp:Username", "jobs");
        var values = Path.Combine(published.Root, "values.env");

        var manifests = await ValidateAsync(published.Directory);
        var init = await SecretsAsync(published, "init", values);
        // What no generator can know: the SMTP relay's password.
        File.WriteAllText(values, File.ReadAllText(values).Replace("smtp-password=\n", "smtp-password=relay pass \"quoted\"\n", StringComparison.Ordinal));
        var yaml = await SecretsAsync(published, "yaml", values);

        Assert.True(manifests.ExitCode == 0, manifests.Output);
        Assert.Contains("0 invalid", manifests.Output, StringComparison.Ordinal);
        Assert.True(init.ExitCode == 0, init.Output);
        Assert.True(yaml.ExitCode == 0, yaml.Output);
        var secrets = await ValidateAsync("-", yaml.Output);
        Assert.True(secrets.ExitCode == 0, secrets.Output);
        var created = KubernetesYaml.LoadAllFromString(yaml.Output).OfType<V1Secret>().ToList();
        Assert.Equal(["apphost-secrets", "scheduler-secrets", "tenant-secrets-0", "valkey-acl-0", "valkey-secrets", "web-tenant-a-secrets", "web-tenant-b-secrets", "web-tenant-c-secrets", "workers-secrets"],
            created.Select(s => s.Metadata.Name).Order(StringComparer.Ordinal));
        Assert.Equal("relay pass \"quoted\"", created.Single(s => s.Metadata.Name == "workers-secrets").StringData["smtp-password"]);
        Assert.All(created, s => Assert.Equal("jobs", s.Metadata.NamespaceProperty));
    }

    [Fact]
    public async Task The_Valkey_ACL_made_from_the_values_file_confines_each_tenants_web_app_on_a_real_server()
    {
        using var published = await Published.RunAsync(["tenant-a", "tenant-b"]);
        var values = Path.Combine(published.Root, "values.env");
        await SecretsAsync(published, "init", values);
        var yaml = await SecretsAsync(published, "yaml", values);
        Assert.True(yaml.ExitCode == 0, yaml.Output);
        var acl = string.Concat(KubernetesYaml.LoadAllFromString(yaml.Output).OfType<V1Secret>()
            .Where(s => s.Metadata.Name.StartsWith("valkey-acl-", StringComparison.Ordinal))
            .SelectMany(s => s.StringData.Values));
        var password = File.ReadAllLines(values).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);

        // The Valkey pod joins the parts into its ACL file: the same here, loaded by a real server.
        await using var server = await AclFileServer.StartAsync(acl);
        await using var webA = await RespClient.ConnectAsync(server.Port, "web-tenant-a", password["valkey-password-web-tenant-a"]);

        Assert.Equal("1", await webA.SendAsync("SADD", "aq:q:{emails}:ready", "tenant-a"));
        Assert.StartsWith("-NOPERM", await webA.SendAsync("HGETALL", "aq:t:tenant-b:{emails}:d"), StringComparison.Ordinal);
        Assert.StartsWith("-NOPERM", await webA.SendAsync("FLUSHALL"), StringComparison.Ordinal);
        await using var workers = await RespClient.ConnectAsync(server.Port, "workers", password["valkey-password-workers"]);
        Assert.Equal("(nil)", await workers.SendAsync("GET", "aq:q:{emails}:reporter"));
        await using var admin = await RespClient.ConnectAsync(server.Port, "admin", password["valkey-password"]);
        Assert.Equal("PONG", await admin.SendAsync("PING"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => RespClient.ConnectAsync(server.Port, "default", ""));
        Assert.DoesNotContain(password["valkey-password-web-tenant-a"], string.Concat(Directory.GetFiles(published.Directory, "*", SearchOption.AllDirectories).Select(File.ReadAllText)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Valkey_cluster_is_published_as_a_StatefulSet_of_masters_and_replicas_joined_by_a_job_and_every_service_knows_its_shards()
    {
        using var published = await Published.RunAsync(["tenant-a"], "--AppHost:Valkey:Masters", "3", "--AppHost:Valkey:Replicas", "1");
        var documents = published.Documents();

        var manifests = await ValidateAsync(published.Directory);
        Assert.True(manifests.ExitCode == 0, manifests.Output);
        var valkey = Assert.Single(documents["valkey"].OfType<V1StatefulSet>());
        Assert.Equal(6, valkey.Spec.Replicas);
        var node = valkey.Spec.Template.Spec.Containers.Single();
        Assert.Contains("--cluster-enabled", node.Args);
        Assert.Contains(node.Args, a => a.StartsWith("$(POD_NAME).valkey.", StringComparison.Ordinal));
        Assert.Contains(node.VolumeMounts, m => m.MountPath == "/etc/valkey/acl");
        Assert.Equal("None", Assert.Single(documents["valkey"].OfType<V1Service>()).Spec.ClusterIP);
        var init = Assert.Single(documents["valkey"].OfType<V1Job>());
        Assert.Contains("--cluster-replicas 1", init.Spec.Template.Spec.Containers.Single().Command[2], StringComparison.Ordinal);
        Assert.Single(documents["valkey"].OfType<V1PodDisruptionBudget>());
        foreach (var service in new[] { "web-tenant-a", "workers" })
        {
            var config = documents[service].OfType<V1ConfigMap>().Single(c => c.Metadata.Name == $"{service}-config").Data;
            Assert.Equal(("3", "1"), (config["QUEUE_SHARDS"], config["QUEUE_WAIT_FOR_REPLICAS"]));
        }
    }

    [Fact]
    public async Task The_output_provisions_tenants_in_a_job_scales_the_workers_on_backlog_and_gates_each_web_app_on_its_database()
    {
        using var published = await Published.RunAsync(["tenant-a", "tenant-b"]);
        var documents = published.Documents();

        Assert.Equal(["postgres", "scheduler", "tenant-provisioning", "tenant-settings", "valkey", "web-tenant-a", "web-tenant-b", "workers"], documents.Keys.Order(StringComparer.Ordinal));
        var provisioning = Assert.Single(documents["tenant-provisioning"].OfType<V1Job>());
        Assert.Equal("tenant-provisioning", provisioning.Metadata.Name);
        Assert.Equal("multi-tenant-jobs/provisioning:latest", provisioning.Spec.Template.Spec.Containers.Single().Image);
        Assert.Contains(provisioning.Spec.Template.Spec.Volumes, v => v.Projected?.Sources.Any(s => s.Secret?.Name == "tenant-secrets-0") == true);

        var scaled = Assert.Single(documents["workers"].OfType<global::Hosting.Publishing.ScaledObject>());
        Assert.Equal(("Deployment", "workers"), (scaled.Spec.ScaleTargetRef.Kind, scaled.Spec.ScaleTargetRef.Name));
        Assert.Equal(global::Domain.Jobs.QueueNames.All.Select(q => $"waiting.{q}"), scaled.Spec.Triggers.Select(t => t.Metadata["valueLocation"]));
        Assert.Null(documents["workers"].OfType<V1Deployment>().Single().Spec.Replicas);

        foreach (var web in new[] { "web-tenant-a", "web-tenant-b" })
        {
            var deployment = documents[web].OfType<V1Deployment>().Single();
            var wait = Assert.Single(deployment.Spec.Template.Spec.InitContainers);
            Assert.Equal(("multi-tenant-jobs/provisioning:latest", "wait"), (wait.Image, wait.Args.Single()));
            Assert.Contains(wait.Env, e => e.Name == "ConnectionStrings__db");
            Assert.DoesNotContain(wait.Env, e => e.Name == "ADMIN_PASSWORD");
            Assert.Equal("multi-tenant-jobs/web:latest", deployment.Spec.Template.Spec.Containers.Single().Image);
            Assert.Equal("/health", deployment.Spec.Template.Spec.Containers.Single().ReadinessProbe.HttpGet.Path);
            Assert.Equal("/alive", deployment.Spec.Template.Spec.Containers.Single().LivenessProbe.HttpGet.Path);
            Assert.Single(documents[web].OfType<V1PodDisruptionBudget>());
            Assert.Equal($"{web}.localhost", documents[web].OfType<V1Ingress>().Single().Spec.Rules.Single().Host);
            // A tenant's web app reaches DNS, Valkey and the database server, nothing else.
            var egress = documents[web].OfType<V1NetworkPolicy>().Single().Spec.Egress;
            Assert.Equal(["postgres", "valkey"], egress.Where(e => e.To is not null).Select(e => e.To.Single().PodSelector.MatchLabels["app.kubernetes.io/name"]));
            Assert.Equal([53, 53], egress.Where(e => e.To is null).SelectMany(e => e.Ports).Select(p => PortOf(p)));
        }
        Assert.Single(documents["workers"].OfType<V1PodDisruptionBudget>());

        // Every pod runs as a non-root user.
        var pods = documents.Values.SelectMany(d => d).Select(d => d switch
        {
            V1Deployment x => x.Spec.Template.Spec,
            V1StatefulSet x => x.Spec.Template.Spec,
            V1Job x => x.Spec.Template.Spec,
            _ => null,
        }).OfType<V1PodSpec>().ToList();
        Assert.Equal(7, pods.Count);
        Assert.All(pods, pod => Assert.True(pod.SecurityContext.RunAsNonRoot == true && pod.SecurityContext.RunAsUser > 0));
        Assert.All(pods.SelectMany(p => p.Containers.Concat(p.InitContainers ?? [])), c => Assert.False(c.SecurityContext.AllowPrivilegeEscalation));
        // The PostgreSQL of run mode and the tests: Debian 12's 15.
        Assert.StartsWith("docker.io/library/postgres:15", documents["postgres"].OfType<V1StatefulSet>().Single().Spec.Template.Spec.Containers.Single().Image, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_settings_of_the_command_line_reach_the_manifests()
    {
        using var published = await Published.RunAsync(["tenant-a"], "--Kubernetes:Namespace", "jobs", "--Kubernetes:IngressDomain", "jobs.example.com",
            "--Kubernetes:IngressClass", "nginx", "--Kubernetes:IngressTlsSecret", "jobs-tls", "--Kubernetes:ImageRegistry", "registry.example.com",
            "--Kubernetes:ImageTag", "1.4.0", "--Kubernetes:OtlpEndpoint", "http://collector.observability:4317",
            "--Kubernetes:Smtp:Host", "smtp.example.com", "--Kubernetes:Smtp:Port", "2525", "--Kubernetes:Smtp:Username", "jobs",
            "--Kubernetes:Resources:web:MemoryLimit", "768Mi", "--Kubernetes:Resources:workers:CpuRequest", "500m",
            "--Kubernetes:Workers:MinReplicas", "2", "--Kubernetes:Workers:MaxReplicas", "30", "--Kubernetes:Workers:BacklogPerReplica", "250",
            "--Kubernetes:Workers:CooldownSeconds", "600");
        var documents = published.Documents();

        Assert.Equal("jobs", documents["namespace"].OfType<V1Namespace>().Single().Metadata.Name);
        Assert.All(documents.Where(d => d.Key != "namespace").SelectMany(d => d.Value).OfType<IMetadata<V1ObjectMeta>>(), o => Assert.Equal("jobs", o.Metadata.NamespaceProperty));
        var ingress = documents["web-tenant-a"].OfType<V1Ingress>().Single();
        Assert.Equal(("nginx", "jobs-tls", "web-tenant-a.jobs.example.com"), (ingress.Spec.IngressClassName, ingress.Spec.Tls.Single().SecretName, ingress.Spec.Rules.Single().Host));
        var web = documents["web-tenant-a"].OfType<V1Deployment>().Single().Spec.Template.Spec.Containers.Single();
        Assert.Equal("registry.example.com/multi-tenant-jobs/web:1.4.0", web.Image);
        Assert.Equal("768Mi", web.Resources.Limits["memory"].ToString());
        var webConfig = documents["web-tenant-a"].OfType<V1ConfigMap>().Single().Data;
        Assert.Equal(("http://collector.observability:4317", "grpc"), (webConfig["OTEL_EXPORTER_OTLP_ENDPOINT"], webConfig["OTEL_EXPORTER_OTLP_PROTOCOL"]));
        Assert.Equal(("apphost-secrets", "otlp-headers"), (web.Env.Single(e => e.Name == "OTEL_EXPORTER_OTLP_HEADERS").ValueFrom.SecretKeyRef.Name, web.Env.Single(e => e.Name == "OTEL_EXPORTER_OTLP_HEADERS").ValueFrom.SecretKeyRef.Key));
        var tenants = JsonNode.Parse(documents["tenant-settings"].OfType<V1ConfigMap>().Single().Data["tenants-0.json"])!;
        Assert.Equal("https://web-tenant-a.jobs.example.com", (string?)tenants["tenant-a"]!["baseUrl"]);

        var workers = documents["workers"].OfType<V1Deployment>().Single().Spec.Template.Spec.Containers.Single();
        var workersConfig = documents["workers"].OfType<V1ConfigMap>().Single().Data;
        Assert.Equal(("smtp.example.com", "2525", "jobs"), (workersConfig["SMTP_HOST"], workersConfig["SMTP_PORT"], workersConfig["SMTP_USERNAME"]));
        Assert.Equal(("workers-secrets", "smtp-password"), (workers.Env.Single(e => e.Name == "SMTP_PASSWORD").ValueFrom.SecretKeyRef.Name, workers.Env.Single(e => e.Name == "SMTP_PASSWORD").ValueFrom.SecretKeyRef.Key));
        Assert.Equal("500m", workers.Resources.Requests["cpu"].ToString());
        Assert.DoesNotContain("smtp", documents.Keys);
        // Workers reach SMTP, the trackers (HTTPS) and the collector anywhere; the web app reaches only the collector outside.
        Assert.Equal([443, 2525, 4317], documents["workers"].OfType<V1NetworkPolicy>().Single().Spec.Egress.Single(e => e.To is null && e.Ports.All(p => PortOf(p) != 53)).Ports.Select(p => PortOf(p)));
        Assert.Equal([4317], documents["web-tenant-a"].OfType<V1NetworkPolicy>().Single().Spec.Egress.Single(e => e.To is null && e.Ports.All(p => PortOf(p) != 53)).Ports.Select(p => PortOf(p)));
        var scaling = documents["workers"].OfType<global::Hosting.Publishing.ScaledObject>().Single().Spec;
        Assert.Equal((2, 30, 600), (scaling.MinReplicaCount, scaling.MaxReplicaCount, scaling.CooldownPeriod));
        Assert.All(scaling.Triggers, t =>
        {
            Assert.Equal("250", t.Metadata["targetValue"]);
            Assert.Equal("http://workers.jobs.svc.cluster.local:8080/metrics/backlog", t.Metadata["url"]);
        });
    }

    [Fact]
    public async Task Settings_that_cannot_work_stop_the_publisher_naming_them()
    {
        using var scope = AppHostScope.Create();

        var result = await AppHostProcess.RunAsync("--publisher", "kubernetes", "--output-path", Path.Combine(scope.Root, "k8s"), "--AppHost:Tenants", scope.WriteTenants("tenant-a"),
            "--Kubernetes:Workers:MinReplicas", "0", "--Kubernetes:Namespace", "Jobs_1");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Kubernetes:Workers:MinReplicas 0 is below 1", result.Output + result.Error, StringComparison.Ordinal);
        Assert.Contains("Kubernetes:Namespace 'Jobs_1' is not a DNS label", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_explicit_opt_in_writes_this_machines_values_and_says_so_loudly()
    {
        using var published = await Published.RunAsync(["tenant-a"], "--Kubernetes:IncludeSecretValues", "true");

        var values = File.ReadAllText(Path.Combine(published.Directory, "secrets", "secrets.env"));

        Assert.Contains($"TENANT_TENANT_A_SIGNING_KEY={published.Secrets["signing-key-tenant-a"]}\n", values, StringComparison.Ordinal);
        Assert.Contains($"valkey-password={published.Secrets["valkey-password"]}\n", values, StringComparison.Ordinal);
        Assert.Contains("WARNING", published.Result.Error, StringComparison.Ordinal);
        Assert.Contains("SECRET VALUES", published.Result.Error, StringComparison.Ordinal);
        // Only there: the manifests themselves still hold none.
        Assert.DoesNotContain(AllFiles(published.Directory).Where(f => !f.File.EndsWith("secrets.env", StringComparison.Ordinal)),
            f => f.Text.Contains(published.Secrets["signing-key-tenant-a"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_tenant_settings_mounted_from_the_published_ConfigMaps_and_the_operators_Secrets_are_what_the_workers_read()
    {
        using var published = await Published.RunAsync(["tenant-a", "tenant-b"]);
        var values = Path.Combine(published.Root, "values.env");
        await SecretsAsync(published, "init", values);
        var secrets = KubernetesYaml.LoadAllFromString((await SecretsAsync(published, "yaml", values)).Output).OfType<V1Secret>().ToList();
        // The projected volume of the workers' pod, as the kubelet lays it out: one file per key of each source.
        var mount = Path.Combine(published.Root, "tenant-settings");
        Directory.CreateDirectory(mount);
        var workers = published.Documents()["workers"].OfType<V1Deployment>().Single().Spec.Template.Spec;
        var maps = published.Documents()["tenant-settings"].OfType<V1ConfigMap>().ToDictionary(m => m.Metadata.Name);
        foreach (var source in workers.Volumes.Single(v => v.Name == "tenant-settings").Projected.Sources)
        {
            var data = source.ConfigMap is { } map ? maps[map.Name].Data : secrets.Single(s => s.Metadata.Name == source.Secret.Name).StringData;
            foreach (var (key, value) in data)
            {
                File.WriteAllText(Path.Combine(mount, key), value);
            }
        }
        var fileValues = File.ReadAllLines(values).Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#')).ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

        using var store = new TenantSettingsStore(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIG_FILE"] = mount,
        }).Build(), Microsoft.Extensions.Logging.Abstractions.NullLogger<TenantSettingsStore>.Instance, TimeProvider.System);

        Assert.Equal(["tenant-a", "tenant-b"], store.Current.Tenants.Keys.Select(t => t.Value).Order(StringComparer.Ordinal));
        var a = store.Get(TenantId.Parse("tenant-a"));
        Assert.Equal(fileValues["TENANT_TENANT_A_SIGNING_KEY"], a.SigningKey);
        var database = new Npgsql.NpgsqlConnectionStringBuilder(a.ConnectionString);
        Assert.Equal(("postgres", 5432, "tenant_a", "tenant_a", fileValues["TENANT_TENANT_A_DATABASE_PASSWORD"]), (database.Host, database.Port, database.Username, database.Database, database.Password));
        Assert.Equal("https://web-tenant-a.localhost", a.BaseUrl);
    }

    [Fact]
    public async Task Secrets_init_keeps_every_value_and_adds_the_keys_of_a_tenant_added_later()
    {
        using var first = await Published.RunAsync(["tenant-a"]);
        var values = Path.Combine(first.Root, "values.env");
        await SecretsAsync(first, "init", values);
        var before = File.ReadAllLines(values).Where(l => !l.StartsWith('#')).ToList();
        File.AppendAllText(values, "smtp-password=\n");

        using var second = await Published.RunAsync(["tenant-a", "tenant-b"]);
        var added = await SecretsAsync(second, "init", values);

        var after = File.ReadAllLines(values).Where(l => !l.StartsWith('#')).ToList();
        Assert.True(added.ExitCode == 0, added.Output);
        Assert.Empty(before.Except(after));
        Assert.Equal(["TENANT_TENANT_B_DATABASE_PASSWORD", "TENANT_TENANT_B_SIGNING_KEY", "admin-password-tenant-b", "data-protection-key-tenant-b", "valkey-password-web-tenant-b"],
            after.Except(before).Where(l => !l.StartsWith("smtp-password", StringComparison.Ordinal)).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)]).Order(StringComparer.Ordinal));
        Assert.All(after.Except(before).Where(l => l.StartsWith("TENANT_TENANT_B_SIGNING_KEY", StringComparison.Ordinal)), l => Assert.Matches("^TENANT_TENANT_B_SIGNING_KEY=[A-Za-z0-9]{48}$", l));
        Assert.Equal("secrets.sh: 5 keys added (5 generated), 0 empty ones filled\n", added.Output);
    }

    [Fact]
    public async Task Secrets_apply_refuses_a_missing_value_and_a_value_that_would_break_a_connection_string_naming_the_key()
    {
        using var published = await Published.RunAsync(["tenant-a"]);
        var values = Path.Combine(published.Root, "values.env");
        await SecretsAsync(published, "init", values);
        var lines = File.ReadAllLines(values).Select(l => l.StartsWith("valkey-password-workers=", StringComparison.Ordinal) ? "valkey-password-workers=pa;ss" : l)
            .Where(l => !l.StartsWith("admin-password-tenant-a=", StringComparison.Ordinal));
        File.WriteAllLines(values, lines);

        var yaml = await SecretsAsync(published, "yaml", values);

        Assert.Equal(1, yaml.ExitCode);
        Assert.Contains("admin-password-tenant-a (Secret web-tenant-a-secrets) has no value", yaml.Output, StringComparison.Ordinal);
        Assert.Contains("the value of valkey-password-workers goes into a connection string or URL", yaml.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publishing_2000_tenants_keeps_every_object_under_1_MiB_and_every_variable_under_32_KiB()
    {
        using var published = await Published.RunAsync(Enumerable.Range(0, 2000).Select(i => $"t{i:D4}"));
        var values = Path.Combine(published.Root, "values.env");
        await SecretsAsync(published, "init", values);
        var secrets = (await SecretsAsync(published, "yaml", values)).Output;

        var objects = published.Documents().SelectMany(d => d.Value).Concat(KubernetesYaml.LoadAllFromString(secrets)).ToList();

        Assert.True(objects.Count > 2000 * 6, $"{objects.Count} objects");
        var largest = objects.Select(o => (Object: o, Size: KubernetesJson.Serialize(o).Length)).MaxBy(x => x.Size);
        Assert.True(largest.Size < 1024 * 1024, $"{((IMetadata<V1ObjectMeta>)largest.Object).Metadata.Name}: {largest.Size} bytes");
        var variables = objects.OfType<V1ConfigMap>().SelectMany(m => m.Data.Where(d => !d.Key.EndsWith(".json", StringComparison.Ordinal)).Select(d => (d.Key, d.Value)))
            .Concat(objects.OfType<V1Deployment>().Concat<object>(objects.OfType<V1Job>()).SelectMany(o => (o is V1Deployment d ? d.Spec.Template.Spec : ((V1Job)o).Spec.Template.Spec).Containers)
                .SelectMany(c => c.Env ?? []).Select(e => (e.Name, e.Value ?? "")))
            .ToList();
        var longest = variables.MaxBy(v => v.Item2.Length);
        Assert.True(longest.Item2.Length < 32 * 1024, $"{longest.Item1}: {longest.Item2.Length} bytes");
        Assert.Equal(4, objects.OfType<V1ConfigMap>().Count(m => m.Metadata.Name.StartsWith("tenant-settings-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_images_the_manifests_name_are_the_ones_dotnet_publish_builds()
    {
        using var published = await Published.RunAsync(["tenant-a"], "--Kubernetes:ImageRegistry", "registry.example.com", "--Kubernetes:ImageTag", "2.0.1");
        var images = published.Documents().Values.SelectMany(d => d).SelectMany(d => d switch
        {
            V1Deployment x => x.Spec.Template.Spec.Containers.Concat(x.Spec.Template.Spec.InitContainers ?? []),
            V1Job x => x.Spec.Template.Spec.Containers,
            _ => [],
        }).Select(c => c.Image).Where(i => i.Contains("multi-tenant-jobs/", StringComparison.Ordinal)).ToHashSet();

        foreach (var project in new[] { "Web", "Workers", "Scheduler", "Provisioning" })
        {
            var evaluated = await RunAsync("dotnet", "", "msbuild", Path.Combine(Repository, project, project + ".csproj"),
                "-getProperty:ContainerRepository", "-getProperty:ContainerUser", "-getProperty:ContainerImageTag",
                "-p:ContainerRegistry=registry.example.com", "-p:ContainerImageTag=2.0.1");
            Assert.True(evaluated.ExitCode == 0, evaluated.Output);
            var properties = JsonNode.Parse(evaluated.Output)!["Properties"]!;
            Assert.Contains($"registry.example.com/{(string?)properties["ContainerRepository"]}:{(string?)properties["ContainerImageTag"]}", images);
            // A numeric user lets Kubernetes verify runAsNonRoot; 1654 is the .NET images' non-root 'app'.
            Assert.Equal("1654", (string?)properties["ContainerUser"]);
        }
    }
}
