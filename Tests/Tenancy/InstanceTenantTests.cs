using Tenancy;

namespace Tests.Tenancy;

/// <summary>A tenant's own instance (INSTANCE_TENANT_ID, as a tenant's web app runs) knows exactly that tenant.</summary>
public sealed class InstanceTenantTests
{
    [Fact]
    public void An_instance_holds_only_its_own_tenant_with_the_services_database_and_its_variables()
    {
        using var store = StoreFactory.Create(TestConfiguration.From(
            ("INSTANCE_TENANT_ID", "tenant-a"),
            ("ConnectionStrings:db", "Host=pg;Database=a"),
            ("TENANT_TENANT_A_SIGNING_KEY", "key-a"),
            ("TENANT_TENANT_A_BASE_URL", "https://a.example.test"),
            ("TENANT_TENANT_B_SIGNING_KEY", "key-b")));

        Assert.False(store.IsMultiTenant);
        Assert.Equal(TenantId.Parse("tenant-a"), store.InstanceTenant);
        var settings = Assert.Single(store.Current.Tenants).Value;
        Assert.Equal("Host=pg;Database=a", settings.DatabaseUrl);
        Assert.Equal("key-a", settings.SigningKey);
        Assert.Equal("https://a.example.test", settings.BaseUrl);
        Assert.Throws<TenantNotFoundException>(() => store.Get(TenantId.Parse("tenant-b")));
    }

    [Fact]
    public void An_instance_tenant_breaking_the_id_rule_is_refused_naming_it()
    {
        var error = Assert.Throws<TenantConfigurationException>(() =>
            StoreFactory.Create(TestConfiguration.From(("INSTANCE_TENANT_ID", "Tenant_A"))));

        Assert.Contains("INSTANCE_TENANT_ID", error.Message, StringComparison.Ordinal);
        Assert.Contains("Tenant_A", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_INSTANCE_TENANT_ID_there_is_no_instance_tenant()
    {
        using var store = StoreFactory.Create(TestConfiguration.From(("DATABASE_URL", "postgresql://u:p@db/app")));

        Assert.Null(store.InstanceTenant);
    }
}

public sealed class TenantTimeZoneTests
{
    [Fact]
    public void A_tenant_time_zone_is_read_from_its_variable()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_AB_DATABASE_URL", "postgresql://u:p@db/ab"),
            ("TENANT_AB_TIME_ZONE", "Europe/Berlin")));

        Assert.Equal("Europe/Berlin", store.Get(TenantId.Parse("ab")).TimeZone);
    }

    [Fact]
    public void An_unknown_time_zone_is_refused_naming_the_tenant_and_the_value()
    {
        var error = Assert.Throws<TenantConfigurationException>(() => StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_AB_DATABASE_URL", "postgresql://u:p@db/ab"),
            ("TENANT_AB_TIME_ZONE", "Mars/Olympus"))));

        Assert.Contains("'ab'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mars/Olympus", error.Message, StringComparison.Ordinal);
    }
}

public sealed class TenantSearchLanguageTests
{
    [Fact]
    public void A_tenant_search_language_is_read_from_json_and_its_variable_wins()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_CONFIGS", """{ "ab": { "databaseUrl": "postgresql://u:p@db/ab", "searchLanguage": "french" }, "cd": { "databaseUrl": "postgresql://u:p@db/cd" } }"""),
            ("TENANT_AB_SEARCH_LANGUAGE", "german")));

        Assert.Equal("german", store.Get(TenantId.Parse("ab")).SearchLanguage);
        Assert.Null(store.Get(TenantId.Parse("cd")).SearchLanguage);
    }

    [Fact]
    public void A_search_language_postgresql_does_not_ship_is_refused_naming_the_field_and_the_choices()
    {
        var error = Assert.Throws<TenantConfigurationException>(() => StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_AB_DATABASE_URL", "postgresql://u:p@db/ab"),
            ("TENANT_AB_SEARCH_LANGUAGE", "klingon"))));

        Assert.Contains("TENANT_AB_SEARCH_LANGUAGE", error.Message, StringComparison.Ordinal);
        Assert.Contains("searchLanguage", error.Message, StringComparison.Ordinal);
        Assert.Contains("'klingon' is not a PostgreSQL text search configuration", error.Message, StringComparison.Ordinal);
        Assert.Contains("english", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_instance_tenants_search_language_is_validated_too()
    {
        var error = Assert.Throws<TenantConfigurationException>(() => StoreFactory.Create(TestConfiguration.From(
            ("INSTANCE_TENANT_ID", "ab"),
            ("DATABASE_URL", "postgresql://u:p@db/ab"),
            ("TENANT_AB_SEARCH_LANGUAGE", "English"))));

        Assert.Contains("'English' is not a PostgreSQL text search configuration", error.Message, StringComparison.Ordinal);
    }
}
