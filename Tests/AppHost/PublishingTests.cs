using System.Text.Json.Nodes;

namespace Tests.AppHost;

/// <summary>What ops deploy: the Aspire manifest for azd and plain Kubernetes manifests, from the AppHost's own command line.</summary>
public sealed class PublishingTests
{
    [Fact]
    public async Task The_manifest_has_containers_for_infrastructure_projects_for_services_and_no_dashboard()
    {
        using var scope = AppHostScope.Create();
        var path = Path.Combine(scope.Root, "out", "aspire-manifest.json");

        var result = await AppHostProcess.RunAsync("--publisher", "manifest", "--output-path", path, "--AppHost:Tenants", scope.WriteTenants("tenant-a", "tenant-b"));

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        var resources = JsonNode.Parse(File.ReadAllText(path))!["resources"]!.AsObject();
        string TypeOf(string name) => (string)resources[name]!["type"]!;
        Assert.All(new[] { "valkey", "postgres", "smtp" }, name => Assert.Equal("container.v0", TypeOf(name)));
        Assert.All(new[] { "web-tenant-a", "web-tenant-b", "workers", "scheduler" }, name => Assert.Equal("project.v0", TypeOf(name)));
        Assert.All(new[] { "db-tenant-a", "db-tenant-b" }, name => Assert.Equal("value.v0", TypeOf(name)));
        Assert.All(new[] { "admin-email", "admin-password-tenant-a", "signing-key-tenant-b", "db-password-tenant-a" }, name => Assert.Equal("parameter.v0", TypeOf(name)));
        // Aspire 13 writes URI-encoded parameter values as annotated strings; nothing else is outside the four kinds.
        Assert.All(resources, r => Assert.Contains((string)r.Value!["type"]!, new[] { "container.v0", "container.v1", "project.v0", "project.v1", "value.v0", "parameter.v0", "annotated.string" }));
        Assert.DoesNotContain(resources, r => r.Key.Contains("dashboard", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("docker.io/valkey/valkey:8.1", (string?)resources["valkey"]!["image"]);
        Assert.Contains("--appendonly yes", resources["valkey"]!["args"]!.ToJsonString(), StringComparison.Ordinal);
        // The published server creates each tenant's role and database on first start.
        var postgres = resources["postgres"]!;
        Assert.Equal("tenant_a:tenant_a tenant_b:tenant_b", (string?)postgres["env"]!["TENANT_DATABASES"]);
        Assert.Equal("{db-password-tenant-a.value}", (string?)postgres["env"]!["TENANT_DATABASE_PASSWORD_TENANT_A"]);
        Assert.Equal("/docker-entrypoint-initdb.d", (string?)postgres["bindMounts"]![0]!["target"]);
        Assert.True((bool)resources["web-tenant-a"]!["bindings"]!["http"]!["external"]!);
    }

    [Fact]
    public async Task A_tenant_that_asks_for_an_elasticsearch_container_gets_one_in_the_manifest_and_its_node_in_the_settings()
    {
        using var scope = AppHostScope.Create();
        var path = Path.Combine(scope.Root, "out", "aspire-manifest.json");
        var tenants = scope.WriteTenantsJson("""{"tenants":[{"id":"tenant-a"},{"id":"tenant-b","elasticsearchContainer":true}]}""");

        var result = await AppHostProcess.RunAsync("--publisher", "manifest", "--output-path", path, "--AppHost:Tenants", tenants);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        var resources = JsonNode.Parse(File.ReadAllText(path))!["resources"]!.AsObject();
        Assert.Equal("container.v0", (string?)resources["search-tenant-b"]!["type"]);
        Assert.StartsWith("docker.elastic.co/elasticsearch/elasticsearch:9.", (string?)resources["search-tenant-b"]!["image"], StringComparison.Ordinal);
        Assert.False(resources.ContainsKey("search-tenant-a"));
        var configs = JsonNode.Parse((string)resources["workers"]!["env"]!["TENANT_CONFIGS"]!)!;
        Assert.Equal("{search-tenant-b.bindings.http.url}", (string?)configs["tenant-b"]!["elasticsearchNode"]);
        Assert.Null(configs["tenant-a"]!["elasticsearchNode"]);
        Assert.Equal("{search-tenant-b.bindings.http.url}", (string?)resources["web-tenant-b"]!["env"]!["TENANT_TENANT_B_ELASTICSEARCH_NODE"]);
    }
}
