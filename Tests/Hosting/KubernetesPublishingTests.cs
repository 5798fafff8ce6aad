using k8s;
using k8s.Models;

namespace Tests.Hosting;

/// <summary><c>--publisher kubernetes</c> writes plain manifests that Kubernetes' typed models accept.</summary>
public sealed class KubernetesPublishingTests
{
    [Fact]
    public async Task Every_document_parses_as_a_typed_kubernetes_object()
    {
        using var scope = AppHostScope.Create();
        var documents = await PublishAsync(scope);

        Assert.All(documents, d => Assert.False(string.IsNullOrEmpty(d.Kind)));
        Assert.Equal(["web-tenant-a", "web-tenant-b", "workers"], documents.OfType<V1Deployment>().Select(d => d.Metadata.Name).Where(n => n != "smtp").Order());
        Assert.Contains(documents.OfType<V1Service>(), s => s.Metadata.Name == "web-tenant-a");
        Assert.Equal("scheduler", Assert.Single(documents.OfType<V1Job>()).Metadata.Name);
    }

    [Fact]
    public async Task Valkey_is_a_stateful_set_with_a_password_from_a_secret_and_a_volume()
    {
        using var scope = AppHostScope.Create();
        var documents = await PublishAsync(scope);

        var valkey = Assert.Single(documents.OfType<V1StatefulSet>(), s => s.Metadata.Name == "valkey");
        var container = Assert.Single(valkey.Spec.Template.Spec.Containers);
        Assert.Contains("--requirepass", container.Args);
        Assert.Equal("valkey-secrets", Assert.Single(container.Env, e => e.Name == "VALKEY_PASSWORD").ValueFrom.SecretKeyRef.Name);
        Assert.Equal("data", Assert.Single(valkey.Spec.VolumeClaimTemplates).Metadata.Name);
        Assert.Contains(container.VolumeMounts, m => m.MountPath == "/data");
    }

    [Fact]
    public async Task Tenant_settings_and_passwords_are_in_secrets_never_in_config_maps()
    {
        using var scope = AppHostScope.Create();
        var documents = await PublishAsync(scope);
        var secrets = scope.StoredParameters().Values.ToList();

        foreach (var configMap in documents.OfType<V1ConfigMap>())
        {
            Assert.All(configMap.Data ?? new Dictionary<string, string>(), entry =>
            {
                Assert.DoesNotContain("TENANT_CONFIGS", entry.Key, StringComparison.Ordinal);
                Assert.DoesNotContain("password", entry.Value, StringComparison.OrdinalIgnoreCase);
                Assert.All(secrets, secret => Assert.DoesNotContain(secret, entry.Value, StringComparison.Ordinal));
            });
        }
        var workersSecret = Assert.Single(documents.OfType<V1Secret>(), s => s.Metadata.Name == "workers-secrets");
        Assert.Contains("TENANT_CONFIGS", workersSecret.StringData.Keys);
        Assert.Contains("http://web-tenant-a:8080", workersSecret.StringData["TENANT_CONFIGS"], StringComparison.Ordinal);
        var webSecret = Assert.Single(documents.OfType<V1Secret>(), s => s.Metadata.Name == "web-tenant-a-secrets");
        Assert.Contains("ConnectionStrings__db", webSecret.StringData.Keys);
        Assert.Contains("ConnectionStrings__valkey", webSecret.StringData.Keys);
    }

    [Fact]
    public async Task Every_service_container_has_health_and_alive_probes_and_resource_requests()
    {
        using var scope = AppHostScope.Create();
        var documents = await PublishAsync(scope);
        var pods = documents.OfType<V1Deployment>().Where(d => d.Metadata.Name != "smtp").Select(d => d.Spec.Template.Spec)
            .Concat(documents.OfType<V1Job>().Select(j => j.Spec.Template.Spec))
            .ToList();

        Assert.Equal(4, pods.Count);
        Assert.All(pods.SelectMany(p => p.Containers), container =>
        {
            Assert.Equal("/health", container.ReadinessProbe.HttpGet.Path);
            Assert.Equal("/alive", container.LivenessProbe.HttpGet.Path);
            Assert.NotEmpty(container.Resources.Requests);
        });
    }

    private static async Task<List<IKubernetesObject>> PublishAsync(AppHostScope scope)
    {
        var output = Path.Combine(scope.Root, "k8s");
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"], "--publisher", "kubernetes", "--output-path", output);
        await using var app = builder.Build();
        await app.RunAsync(TestContext.Current.CancellationToken);

        var documents = new List<IKubernetesObject>();
        foreach (var file in Directory.GetFiles(output, "*.yaml"))
        {
            documents.AddRange(KubernetesYaml.LoadAllFromString(await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken)).Cast<IKubernetesObject>());
        }
        return documents;
    }
}
