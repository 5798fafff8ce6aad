extern alias AppHostProject;

using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Hosting.Infrastructure;

namespace Tests.AppHost;

/// <summary>The topology the AppHost declares for a tenant list, read from its application model without starting it.</summary>
public sealed class TopologyTests
{
    [Fact]
    public async Task Each_tenant_gets_its_database_its_web_app_and_its_secrets_and_nothing_else_changes()
    {
        using var scope = AppHostScope.Create();
        var two = await scope.BuilderAsync(["tenant-a", "tenant-b"]);
        var three = await scope.BuilderAsync(["tenant-a", "tenant-b", "tenant-c"]);

        // Aspire adds a hidden "<project>-rebuilder" beside each project; it is Aspire's, not the topology's.
        static IEnumerable<string> Names(IDistributedApplicationBuilder builder) =>
            builder.Resources.Select(r => r.Name).Where(n => !n.EndsWith("-rebuilder", StringComparison.Ordinal));
        var added = Names(three).Except(Names(two)).Order();

        Assert.Equal(["admin-password-tenant-c", "data-protection-key-tenant-c", "db-password-tenant-c", "db-tenant-c", "signing-key-tenant-c", "tenant-c", "valkey-password-web-tenant-c", "valkey-web-tenant-c", "web-tenant-c"], added);
        Assert.Empty(Names(two).Except(Names(three)));
        Assert.Contains(three.Resources, r => r is { Name: "valkey" } and IResourceWithConnectionString);
        Assert.IsType<TenantDatabaseResource>(three.Resources.Single(r => r.Name == "db-tenant-c"));
        Assert.All(three.Resources.OfType<ProjectResource>(), project => Assert.Contains(project.Name, new[] { "web-tenant-a", "web-tenant-b", "web-tenant-c", "workers", "scheduler", "tenant-provisioning" }));
    }

    [Fact]
    public async Task A_tenant_database_belongs_to_a_role_of_its_own_and_web_apps_and_workers_reach_it_as_that_role()
    {
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"]);
        var database = Assert.IsType<TenantDatabaseResource>(builder.Resources.Single(r => r.Name == "db-tenant-a"));

        Assert.Equal(("tenant_a", "tenant_a"), (database.DatabaseName, database.Role));
        Assert.Equal("db-password-tenant-a", database.PasswordParameter.Name);
        Assert.True(database.PasswordParameter.Secret);
        var web = await EnvironmentAsync(builder, "web-tenant-a");
        Assert.Equal("{db-tenant-a.connectionString}", web["ConnectionStrings__db"]);
        // Its own Valkey user, confined to its tenant's keys.
        Assert.Equal("{valkey-web-tenant-a.connectionString}", web["ConnectionStrings__valkey"]);
        var user = Assert.IsType<ValkeyUserResource>(builder.Resources.Single(r => r.Name == "valkey-web-tenant-a"));
        Assert.Equal(("web-tenant-a", "valkey-password-web-tenant-a", true), (user.User, user.PasswordParameter.Name, user.PasswordParameter.Secret));
        Assert.Equal("tenant-a", web["INSTANCE_TENANT_ID"]);
        Assert.Equal("{signing-key-tenant-a.value}", web["TENANT_TENANT_A_SIGNING_KEY"]);
        Assert.Equal("{admin-password-tenant-a.value}", web["ADMIN_PASSWORD"]);
        Assert.Equal("{data-protection-key-tenant-a.value}", web["DATA_PROTECTION_KEY"]);
        Assert.Equal("{admin-email.value}", web["ADMIN_EMAIL"]);
    }

    [Fact]
    public async Task The_workers_get_every_tenant_in_TENANT_CONFIGS_with_its_own_role_signing_key_and_web_address()
    {
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"]);

        var workers = await EnvironmentAsync(builder, "workers");

        Assert.Equal("true", workers["MULTI_TENANT_MODE"]);
        var configs = JsonNode.Parse(workers["TENANT_CONFIGS"])!.AsObject();
        Assert.Equal(["tenant-a", "tenant-b"], configs.Select(c => c.Key));
        foreach (var (id, tenant) in configs)
        {
            var role = id.Replace('-', '_');
            Assert.StartsWith($"postgresql://{role}:{{db-password-{id}.value}}@{{postgres.bindings.tcp.host}}:{{postgres.bindings.tcp.port}}/{role}", (string)tenant!["databaseUrl"]!, StringComparison.Ordinal);
            Assert.Equal($"{{signing-key-{id}.value}}", (string?)tenant["signingKey"]);
            Assert.Equal($"{{web-{id}.bindings.http.url}}", (string?)tenant["baseUrl"]);
            // No Elasticsearch was declared: the tenant searches with PostgreSQL full-text, and no dead node is invented.
            Assert.Null(tenant["elasticsearchNode"]);
        }
    }

    [Fact]
    public async Task A_tenant_with_an_elasticsearch_node_and_a_search_language_gets_them_in_its_web_app_and_in_the_workers_settings()
    {
        using var scope = AppHostScope.Create();
        var file = scope.WriteTenantsJson("""
            {"tenants":[{"id":"tenant-a"},{"id":"tenant-b","elasticsearchNode":"https://search.example.test:9200","elasticsearchIndex":"b-cases","searchLanguage":"german"}]}
            """);
        var builder = await scope.BuilderForFileAsync(file);

        var webB = await EnvironmentAsync(builder, "web-tenant-b");
        var webA = await EnvironmentAsync(builder, "web-tenant-a");
        var configs = JsonNode.Parse((await EnvironmentAsync(builder, "workers"))["TENANT_CONFIGS"])!;

        Assert.Equal("https://search.example.test:9200", webB["TENANT_TENANT_B_ELASTICSEARCH_NODE"]);
        Assert.Equal("b-cases", webB["TENANT_TENANT_B_ELASTICSEARCH_INDEX"]);
        Assert.Equal("german", webB["TENANT_TENANT_B_SEARCH_LANGUAGE"]);
        Assert.DoesNotContain(webA.Keys, key => key.Contains("ELASTICSEARCH", StringComparison.Ordinal) || key.Contains("SEARCH_LANGUAGE", StringComparison.Ordinal));
        Assert.Equal("https://search.example.test:9200", (string?)configs["tenant-b"]!["elasticsearchNode"]);
        Assert.Equal("b-cases", (string?)configs["tenant-b"]!["elasticsearchIndex"]);
        Assert.Equal("german", (string?)configs["tenant-b"]!["searchLanguage"]);
        Assert.Null(configs["tenant-a"]!["searchLanguage"]);
    }

    [Fact]
    public async Task Each_tenant_has_a_tenant_row_with_its_web_app_under_it_and_the_rows_show_every_queue()
    {
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"]);

        var rows = builder.Resources.OfType<Hosting.Tenants.TenantResource>().ToList();

        Assert.Equal(["tenant-a", "tenant-b"], rows.Select(r => r.Name));
        foreach (var row in rows)
        {
            var web = builder.Resources.Single(r => r.Name == $"web-{row.Name}");
            Assert.Contains(web.Annotations.OfType<ResourceRelationshipAnnotation>(), a => a.Type == "Parent" && a.Resource == row);
            Assert.Equal(web, row.WebEndpoint?.Resource);
        }
        Assert.Equal(global::Domain.Jobs.QueueNames.All, AppHostProject::AppHost.JobQueues.All);
    }

    [Fact]
    public async Task A_cluster_asked_for_where_run_mode_uses_containers_is_one_local_node_whose_writes_wait_for_no_replica()
    {
        using var scope = AppHostScope.Create();
        string[] cluster = ["--AppHost:Valkey:Masters", "3", "--AppHost:Valkey:Replicas", "1"];
        var containers = await scope.BuilderAsync(["tenant-a"], [.. cluster, "--AppHost:Containers", "always"]);
        var executables = await scope.BuilderAsync(["tenant-a"], [.. cluster, "--AppHost:Containers", "never"]);

        // With containers the local Valkey stays one node: shards still spread the queue, but no write may wait for a
        // replica that does not exist (every acknowledged enqueue would be refused).
        var local = await EnvironmentAsync(containers, "workers");
        Assert.Equal("3", local["QUEUE_SHARDS"]);
        Assert.DoesNotContain("QUEUE_WAIT_FOR_REPLICAS", local.Keys);
        Assert.IsType<ValkeyClusterResource>(executables.Resources.Single(r => r.Name == "valkey"));
        var clustered = await EnvironmentAsync(executables, "workers");
        Assert.Equal(("3", "1"), (clustered["QUEUE_SHARDS"], clustered["QUEUE_WAIT_FOR_REPLICAS"]));
    }

    /// <summary>The resource's environment as the manifest writes it (expressions, not resolved values).</summary>
    [Fact]
    public async Task DETAILED_LOGS_given_to_the_apphost_reaches_every_project_and_is_absent_by_default()
    {
        using var scope = AppHostScope.Create();
        var quiet = await scope.BuilderAsync(["tenant-a"]);
        var detailed = await scope.BuilderAsync(["tenant-a"], "--DETAILED_LOGS", "true");

        foreach (var project in new[] { "web-tenant-a", "workers", "scheduler" })
        {
            Assert.DoesNotContain("DETAILED_LOGS", (await EnvironmentAsync(quiet, project)).Keys);
            Assert.Equal("true", (await EnvironmentAsync(detailed, project))["DETAILED_LOGS"]);
        }
    }

    private static async Task<Dictionary<string, string>> EnvironmentAsync(IDistributedApplicationBuilder builder, string resource)
    {
        var values = new Dictionary<string, object>();
        var target = builder.Resources.Single(r => r.Name == resource);
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), target, values, TestContext.Current.CancellationToken);
        foreach (var callback in target.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }
        return values.ToDictionary(v => v.Key, v => v.Value switch
        {
            string text => text,
            IManifestExpressionProvider expression => expression.ValueExpression,
            var other => other.ToString()!,
        });
    }
}
