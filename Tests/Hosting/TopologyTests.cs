using Hosting;
using Hosting.Testing;

namespace Tests.Hosting;

/// <summary>The topology follows tenants.json; parameters keep their values across runs.</summary>
public sealed class TopologyTests
{
    [Fact]
    public async Task Adding_a_tenant_adds_only_its_resources_and_keeps_every_existing_secret()
    {
        using var scope = AppHostScope.Create();
        var before = await scope.BuilderAsync(["tenant-a", "tenant-b"]);
        var appBefore = before.Build();
        var secretsBefore = scope.StoredParameters();
        var webBefore = Environment(before, "web-tenant-a");

        var after = await scope.BuilderAsync(["tenant-a", "tenant-b", "tenant-c"]);
        var appAfter = after.Build();
        var secretsAfter = scope.StoredParameters();

        var added = after.Resources.Select(r => r.Name).Except(before.Resources.Select(r => r.Name)).Order();
        Assert.Equal(["admin-password-tenant-c", "db-password-tenant-c", "db-tenant-c", "signing-key-tenant-c", "web-tenant-c"], added);
        Assert.Empty(before.Resources.Select(r => r.Name).Except(after.Resources.Select(r => r.Name)));
        Assert.All(secretsBefore, secret => Assert.Equal(secret.Value, secretsAfter[secret.Key]));
        Assert.Equal(webBefore, Environment(after, "web-tenant-a"));
        var configs = Environment(after, "workers")["TENANT_CONFIGS"];
        Assert.Contains("\"tenant-c\":{{\"databaseUrl\":\"postgresql://tenant_c:{db-password-tenant-c.value}@", configs, StringComparison.Ordinal);
        GC.KeepAlive(appBefore);
        GC.KeepAlive(appAfter);
    }

    [Fact]
    public async Task An_invalid_tenant_id_is_refused_with_a_message_that_names_it()
    {
        using var scope = AppHostScope.Create();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => scope.BuilderAsync(["tenant-a", "Tenant_B"]));

        Assert.Contains("'Tenant_B'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_generated_parameter_survives_a_restart_and_configuration_overrides_it()
    {
        using var scope = AppHostScope.Create();
        string First(params string[] args)
        {
            var builder = DistributedApplicationTestingBuilder.Create(args, o => { o.StateDirectory = scope.StateDirectory; o.DeleteStateDirectoryOnDispose = false; });
            var secret = builder.AddGeneratedParameter("api-key");
            builder.Build();
            return secret.Resource.Value;
        }

        var generated = First();

        Assert.Equal(22, generated.Length);
        Assert.Equal(generated, First());
        Assert.Equal("from-config", First("--Parameters:api-key", "from-config"));
        Assert.Equal(generated, scope.StoredParameters()["api-key"]);
    }

    [Fact]
    public void A_parameter_without_value_or_default_names_the_variable_that_sets_it()
    {
        using var scope = AppHostScope.Create();
        var builder = DistributedApplicationTestingBuilder.Create(configure: o => o.StateDirectory = scope.StateDirectory);
        builder.AddParameter("smtp-password", secret: true);

        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());

        Assert.Contains("Parameters__smtp-password", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void References_inject_aspire_variables_for_connection_strings_and_service_discovery()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var cache = builder.AddValkey("cache");
        var api = builder.AddProject("api", "../Web/Web.csproj");
        var front = builder.AddProject("front", "../Web/Web.csproj").WithReference(cache).WithReference(api).WaitFor(api);

        var environment = Environment(builder, "front");

        Assert.Equal("{cache.connectionString}", environment["ConnectionStrings__cache"]);
        Assert.Equal("{api.bindings.http.url}", environment["services__api__http__0"]);
        Assert.Equal(api.Resource, Assert.Single(front.Resource.Waits).Resource);
    }

    private static Dictionary<string, string> Environment(DistributedApplicationBuilder builder, string resource) =>
        builder.Resources.OfType<Resource>().Single(r => r.Name == resource).Environment
            .ToDictionary(e => e.Key, e => e.Value.Render(ValueTarget.Manifest));
}
