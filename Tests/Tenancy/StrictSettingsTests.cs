using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Tenancy;

namespace Tests.Tenancy;

/// <summary>Settings fail loud, never half-on (issue 12, item 3).</summary>
public sealed class StrictSettingsTests
{
    private const string OneTenant = "{\"tenant-a\":{\"databaseUrl\":\"postgresql://u:p@localhost/a\"}}";

    private static TenantSettingsStore Store(params (string Key, string? Value)[] values) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build(),
            NullLogger<TenantSettingsStore>.Instance, TimeProvider.System);

    [Theory]
    [InlineData("1")]
    [InlineData("yes")]
    [InlineData("on")]
    [InlineData("tru")]
    public void A_multi_tenant_mode_that_is_neither_true_nor_false_is_refused_naming_variable_and_value(string value)
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() => Store(("MULTI_TENANT_MODE", value), ("TENANT_CONFIGS", OneTenant)));

        Assert.Equal("MULTI_TENANT_MODE", thrown.ConfigurationSource);
        Assert.Contains($"'{value}'", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("false", false)]
    [InlineData("FALSE", false)]
    public void True_and_false_in_any_case_are_the_modes(string? value, bool multiTenant)
    {
        using var store = Store(("MULTI_TENANT_MODE", value), ("TENANT_CONFIGS", OneTenant));

        Assert.Equal(multiTenant, store.IsMultiTenant);
    }

    [Theory]
    [InlineData("TENANT_TENANT__B_DATABASE_URL", "TENANT_TENANT__B_DATABASE_URL")]
    [InlineData("tenant_tenant_b_database_url", "tenant_tenant_b_database_url")]
    [InlineData("TENANT_TENANT_B_DATABSE_URL", "TENANT_TENANT_B_DATABSE_URL")]
    [InlineData("TENANT_DATABASE_URL", "TENANT_DATABASE_URL")]
    public void A_tenant_variable_that_maps_to_no_setting_is_refused_naming_it(string variable, string named)
    {
        // Environment variables reach configuration with '__' read as a section separator, as here.
        var key = variable.Replace("__", ":", StringComparison.Ordinal);
        var thrown = Assert.Throws<TenantConfigurationException>(() => Store(("MULTI_TENANT_MODE", "true"), ("TENANT_CONFIGS", OneTenant), (key, "x")));

        Assert.Equal(named, thrown.ConfigurationSource);
        Assert.Contains("does not map to a tenant setting", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mapped_tenant_variables_and_the_two_source_names_are_accepted()
    {
        using var store = Store(("MULTI_TENANT_MODE", "true"), ("TENANT_CONFIGS", OneTenant),
            ("TENANT_TENANT_B_DATABASE_URL", "postgresql://u:p@localhost/b"), ("TENANT_TENANT_B_SIGNING_KEY", "k"));

        Assert.Equal(2, store.Current.Tenants.Count);
    }

    [Theory]
    [InlineData("signingKye", "signingKey")]
    [InlineData("dbUrl", null)]
    [InlineData("databaseurl_", "databaseUrl")]
    public void An_unknown_field_in_a_tenants_settings_is_refused_naming_tenant_and_field(string field, string? suggestion)
    {
        var json = "{\"tenant-a\":{\"databaseUrl\":\"postgresql://u:p@localhost/a\",\"" + field + "\":\"x\"}}";

        var thrown = Assert.Throws<TenantConfigurationException>(() => Store(("MULTI_TENANT_MODE", "true"), ("TENANT_CONFIGS", json)));

        Assert.Equal("tenant-a", thrown.TenantId);
        Assert.Equal(field, thrown.Field);
        Assert.Contains("is not a tenant setting", thrown.Message, StringComparison.Ordinal);
        if (suggestion is not null)
        {
            Assert.Contains($"did you mean '{suggestion}'", thrown.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Tenant_settings_without_a_multi_tenant_mode_are_refused_naming_both(string? mode)
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() => Store(("MULTI_TENANT_MODE", mode), ("TENANT_CONFIGS", OneTenant)));

        Assert.Equal("MULTI_TENANT_MODE", thrown.ConfigurationSource);
        Assert.Contains("TENANT_CONFIGS", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tenant_variable_without_a_multi_tenant_mode_is_refused_naming_it()
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() => Store(("TENANT_TENANT_B_DATABASE_URL", "postgresql://u:p@localhost/b")));

        Assert.Contains("MULTI_TENANT_MODE", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("TENANT_TENANT_B_DATABASE_URL", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tenants_own_instance_reads_its_variables_without_a_multi_tenant_mode()
    {
        using var store = Store(("INSTANCE_TENANT_ID", "tenant-b"), ("TENANT_TENANT_B_SIGNING_KEY", "k"));

        Assert.Equal("k", store.Get(TenantId.Parse("tenant-b")).SigningKey);
    }
}
