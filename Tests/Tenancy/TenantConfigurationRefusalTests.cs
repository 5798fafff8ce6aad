using Microsoft.Extensions.Configuration;
using Tenancy;

namespace Tests.Tenancy;

public sealed class TenantConfigurationRefusalTests
{
    private const string Db = "postgresql://u:p@db:5432/app";

    private static TenantConfigurationException Refused(IConfiguration configuration) =>
        Assert.Throws<TenantConfigurationException>(() => StoreFactory.Create(configuration));

    private static TenantConfigurationException RefusedConfigs(string json) =>
        Refused(TestConfiguration.MultiTenant(("TENANT_CONFIGS", json)));

    [Fact]
    public void Refuses_malformed_JSON_naming_the_source_line_and_position()
    {
        var thrown = RefusedConfigs("{\n  \"tenant-a\": {\n    \"databaseUrl\": \"x\",,\n  }\n}");

        Assert.StartsWith("TENANT_CONFIGS: malformed JSON at line 3, position", thrown.Message, StringComparison.Ordinal);
        Assert.Equal("TENANT_CONFIGS", thrown.ConfigurationSource);
    }

    [Fact]
    public void Refuses_malformed_JSON_in_the_file_naming_the_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tenants.json");
        File.WriteAllText(path, """{ "tenant-a": { "databaseUrl": """);

        var thrown = Refused(TestConfiguration.MultiTenant(("TENANT_CONFIG_FILE", path)));

        Assert.Contains($"TENANT_CONFIG_FILE ({path})", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("malformed JSON at line 1", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_missing_config_file_naming_it()
    {
        using var dir = new TempDirectory();
        var path = dir.File("absent.json");

        var thrown = Refused(TestConfiguration.MultiTenant(("TENANT_CONFIG_FILE", path)));

        Assert.Contains(path, thrown.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_JSON_that_is_not_an_object()
    {
        var thrown = RefusedConfigs("""[ { "databaseUrl": "x" } ]""");

        Assert.Contains("expected a JSON object keyed by tenant id, found an array", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Tenant-A")]
    [InlineData("tenant a")]
    [InlineData("x")]
    [InlineData("-a")]
    public void Refuses_a_JSON_key_breaking_the_id_rule_naming_it(string badId)
    {
        var thrown = RefusedConfigs($$"""{ "{{badId}}": { "databaseUrl": "{{Db}}" } }""");

        Assert.Contains($"'{badId}'", thrown.Message, StringComparison.Ordinal);
        Assert.Equal(badId, thrown.TenantId);
    }

    [Fact]
    public void Refuses_a_variable_whose_id_part_breaks_the_rule_naming_the_variable()
    {
        var thrown = Refused(TestConfiguration.MultiTenant(("TENANT_TENANT__A_DATABASE_URL", Db)));

        Assert.Equal("TENANT_TENANT__A_DATABASE_URL", thrown.ConfigurationSource);
        Assert.Contains("'TENANT__A'", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tenant-a", "Tenant-A")]
    [InlineData("tenant-a", "tenant_a")]
    [InlineData("TENANT-A", "tenant-a")]
    public void Refuses_two_spellings_of_one_id_naming_both(string first, string second)
    {
        var thrown = RefusedConfigs($$"""{ "{{first}}": { "databaseUrl": "{{Db}}" }, "{{second}}": { "databaseUrl": "{{Db}}" } }""");

        Assert.Contains($"'{first}'", thrown.Message, StringComparison.Ordinal);
        Assert.Contains($"'{second}'", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("two spellings", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_the_same_id_twice_in_one_object()
    {
        var thrown = RefusedConfigs($$"""{ "tenant-a": { "databaseUrl": "{{Db}}" }, "tenant-a": { "databaseUrl": "{{Db}}" } }""");

        Assert.Equal("TENANT_CONFIGS, tenant 'tenant-a': tenant 'tenant-a' is defined twice.", thrown.Message);
    }

    [Fact]
    public void Refuses_a_tenant_without_a_database_url_naming_the_tenant_and_field()
    {
        var thrown = RefusedConfigs("""{ "tenant-a": { "baseUrl": "https://a.example" } }""");

        Assert.StartsWith("TENANT_CONFIGS, tenant 'tenant-a', field 'databaseUrl': is missing", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_tenant_defined_only_by_a_variable_without_a_database_naming_the_variable()
    {
        var thrown = Refused(TestConfiguration.MultiTenant(("TENANT_TENANT_B_SIGNING_KEY", "k")));

        Assert.StartsWith("TENANT_TENANT_B_SIGNING_KEY, tenant 'tenant-b', field 'databaseUrl': is missing", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("TENANT_TENANT_B_DATABASE_URL", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mysql://u:p@db/app", "scheme 'mysql'")]
    [InlineData("postgresql://u:p@db:notaport/app", "port 'notaport'")]
    [InlineData("just-a-word", "neither a postgresql:// URL nor a key=value connection string")]
    public void Refuses_an_unparsable_database_url_naming_tenant_and_field(string url, string problem)
    {
        var thrown = RefusedConfigs($$"""{ "tenant-a": { "databaseUrl": "{{url}}" } }""");

        Assert.StartsWith("TENANT_CONFIGS, tenant 'tenant-a', field 'databaseUrl': the database URL", thrown.Message, StringComparison.Ordinal);
        Assert.Contains(problem, thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_the_overriding_variable_when_its_database_url_is_unparsable()
    {
        var thrown = Refused(TestConfiguration.MultiTenant(
            ("TENANT_CONFIGS", $$"""{ "tenant-a": { "databaseUrl": "{{Db}}" } }"""),
            ("TENANT_TENANT_A_DATABASE_URL", "http://wrong")));

        Assert.Equal("TENANT_TENANT_A_DATABASE_URL", thrown.ConfigurationSource);
        Assert.Equal("tenant-a", thrown.TenantId);
        Assert.Equal("databaseUrl", thrown.Field);
    }

    [Fact]
    public void Never_echoes_the_password_of_an_unparsable_database_url()
    {
        var thrown = RefusedConfigs("""{ "tenant-a": { "databaseUrl": "postgresql://u:s3cr3t@db:99999/app" } }""");

        Assert.DoesNotContain("s3cr3t", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("42", "a number")]
    [InlineData("true", "a boolean")]
    [InlineData("{ \"url\": \"x\" }", "an object")]
    [InlineData("[\"x\"]", "an array")]
    public void Refuses_a_non_string_value_naming_the_field(string json, string found)
    {
        var thrown = RefusedConfigs($$"""{ "tenant-a": { "databaseUrl": "{{Db}}", "signingKey": {{json}} } }""");

        Assert.Equal($"TENANT_CONFIGS, tenant 'tenant-a', field 'signingKey': must be a string, found {found}.", thrown.Message);
    }

    [Fact]
    public void Refuses_a_tenant_whose_settings_are_not_an_object()
    {
        var thrown = RefusedConfigs($$"""{ "tenant-a": "{{Db}}" }""");

        Assert.Equal("TENANT_CONFIGS, tenant 'tenant-a': expected an object of settings, found a string.", thrown.Message);
    }

    [Fact]
    public void Refuses_an_empty_configuration_in_multi_tenant_mode()
    {
        var thrown = Refused(TestConfiguration.MultiTenant());

        Assert.Contains("no tenant is configured", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("MULTI_TENANT_MODE=true", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_an_empty_JSON_object_in_multi_tenant_mode_naming_the_source()
    {
        var thrown = RefusedConfigs("{}");

        Assert.StartsWith("TENANT_CONFIGS: no tenant is configured", thrown.Message, StringComparison.Ordinal);
    }
}
