using Microsoft.Extensions.Logging;
using Tenancy;

namespace Tests.Tenancy;

public sealed class TenantSettingsSourcesTests
{
    private const string DbA = "postgresql://a:pw@db-a:5432/tenant_a";
    private const string DbB = "postgresql://b:pw@db-b:5432/tenant_b";

    private static readonly TenantId A = TenantId.Parse("tenant-a");
    private static readonly TenantId B = TenantId.Parse("tenant-b");

    [Fact]
    public void Reads_every_field_from_TENANT_CONFIGS_alone()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(("TENANT_CONFIGS", $$"""
            { "tenant-a": { "databaseUrl": "{{DbA}}", "elasticsearchNode": "http://es:9200", "elasticsearchIndex": "a-idx",
                            "baseUrl": "https://a.example", "signingKey": "key-a" } }
            """)));

        Assert.Equal(new TenantSettings(DbA, "http://es:9200", "a-idx", "https://a.example", "key-a"), store.Get(A));
        Assert.Equal("TENANT_CONFIGS", store.Current.Source);
    }

    [Fact]
    public void Reads_every_field_from_individual_variables_alone()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_TENANT_A_DATABASE_URL", DbA),
            ("TENANT_TENANT_A_ELASTICSEARCH_NODE", "http://es:9200"),
            ("TENANT_TENANT_A_ELASTICSEARCH_INDEX", "a-idx"),
            ("TENANT_TENANT_A_BASE_URL", "https://a.example"),
            ("TENANT_TENANT_A_SIGNING_KEY", "key-a")));

        Assert.Equal(new TenantSettings(DbA, "http://es:9200", "a-idx", "https://a.example", "key-a"), store.Get(A));
        Assert.Equal("TENANT_<ID>_* variables", store.Current.Source);
    }

    [Fact]
    public void Reads_every_field_from_TENANT_CONFIG_FILE_alone()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tenants.json");
        File.WriteAllText(path, $$"""
            { "tenant-a": { "databaseUrl": "{{DbA}}", "elasticsearchNode": "http://es:9200", "elasticsearchIndex": "a-idx",
                            "baseUrl": "https://a.example", "signingKey": "key-a" } }
            """);

        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(("TENANT_CONFIG_FILE", path)));

        Assert.Equal(new TenantSettings(DbA, "http://es:9200", "a-idx", "https://a.example", "key-a"), store.Get(A));
        Assert.Equal($"TENANT_CONFIG_FILE ({path})", store.Current.Source);
    }

    [Fact]
    public void Individual_variables_override_TENANT_CONFIGS_per_field()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_CONFIGS", $$"""{ "tenant-a": { "databaseUrl": "{{DbA}}", "baseUrl": "https://json.example", "signingKey": "json-key" } }"""),
            ("TENANT_TENANT_A_BASE_URL", "https://variable.example")));

        var settings = store.Get(A);
        Assert.Equal("https://variable.example", settings.BaseUrl);
        Assert.Equal("json-key", settings.SigningKey);
        Assert.Equal(DbA, settings.DatabaseUrl);
    }

    [Fact]
    public void TENANT_CONFIGS_overrides_the_file_per_field()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tenants.json");
        File.WriteAllText(path, $$"""{ "tenant-a": { "databaseUrl": "{{DbA}}", "signingKey": "file-key", "baseUrl": "https://file.example" } }""");

        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_CONFIG_FILE", path),
            ("TENANT_CONFIGS", """{ "tenant-a": { "signingKey": "configs-key" } }""")));

        var settings = store.Get(A);
        Assert.Equal("configs-key", settings.SigningKey);
        Assert.Equal("https://file.example", settings.BaseUrl);
    }

    [Fact]
    public void All_three_sources_merge_with_file_lowest_and_variables_highest()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tenants.json");
        File.WriteAllText(path, $$"""
            { "tenant-a": { "databaseUrl": "{{DbA}}", "baseUrl": "https://file.example", "signingKey": "file-key", "elasticsearchIndex": "file-idx" } }
            """);

        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_CONFIG_FILE", path),
            ("TENANT_CONFIGS", $$"""{ "tenant-a": { "baseUrl": "https://configs.example", "signingKey": "configs-key" }, "tenant-b": { "databaseUrl": "{{DbB}}" } }"""),
            ("TENANT_TENANT_A_SIGNING_KEY", "variable-key")));

        Assert.Equal(new TenantSettings(DbA, null, "file-idx", "https://configs.example", "variable-key"), store.Get(A));
        Assert.Equal(DbB, store.Get(B).DatabaseUrl);
        Assert.Equal($"TENANT_CONFIG_FILE ({path}), TENANT_CONFIGS, TENANT_<ID>_* variables", store.Current.Source);
    }

    [Fact]
    public void Logs_how_many_tenants_were_loaded_and_from_where()
    {
        var logs = new CapturingLoggerProvider();
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_CONFIGS", $$"""{ "tenant-a": { "databaseUrl": "{{DbA}}" } }"""),
            ("TENANT_TENANT_B_DATABASE_URL", DbB)), logs);

        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information
            && e.Message == "Loaded 2 tenant configurations from TENANT_CONFIGS, TENANT_<ID>_* variables");
    }

    [Fact]
    public void Refuses_TENANT_variables_without_a_known_suffix_naming_them()
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() => StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_TENANT_A_DATABASE_URL", DbA),
            ("TENANT_TENANT_A_COLOR", "blue"),
            ("TENANT_CONFIG_FILE", null))));

        Assert.Equal("TENANT_TENANT_A_COLOR", thrown.ConfigurationSource);
    }

    [Fact]
    public void Unknown_tenant_lookup_throws_with_the_contract_message()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(("TENANT_TENANT_A_DATABASE_URL", DbA)));

        var thrown = Assert.Throws<TenantNotFoundException>(() => store.Get(TenantId.Parse("tenant-z")));
        Assert.Equal("No configuration found for tenant: tenant-z", thrown.Message);
    }

    [Fact]
    public void Settings_expose_the_database_as_an_Npgsql_connection_string()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(("TENANT_TENANT_A_DATABASE_URL", DbA)));

        var builder = new Npgsql.NpgsqlConnectionStringBuilder(store.Get(A).ConnectionString);
        Assert.Equal("db-a", builder.Host);
        Assert.Equal("tenant_a", builder.Database);
    }
}
