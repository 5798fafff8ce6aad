using Tenancy;

namespace Tests.Tenancy;

public sealed class SingleTenantModeTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("false")]
    public void Without_MULTI_TENANT_MODE_true_the_store_needs_no_tenants_and_holds_none(string? mode)
    {
        using var store = StoreFactory.Create(TestConfiguration.From(("MULTI_TENANT_MODE", mode)));

        Assert.False(store.IsMultiTenant);
        Assert.Empty(store.Current.Tenants);
    }

    [Fact]
    public void In_single_tenant_mode_said_explicitly_tenant_sources_are_not_read()
    {
        // MULTI_TENANT_MODE=false is a decision: a broken TENANT_CONFIGS beside it does not stop a service that never uses it.
        using var store = StoreFactory.Create(TestConfiguration.From(("MULTI_TENANT_MODE", "false"), ("TENANT_CONFIGS", "{ broken")));

        Assert.Empty(store.Current.Tenants);
    }

    [Fact]
    public void In_single_tenant_mode_a_tenant_lookup_throws_not_found()
    {
        using var store = StoreFactory.Create(TestConfiguration.From());

        var thrown = Assert.Throws<TenantNotFoundException>(() => store.Get(TenantId.Parse("tenant-a")));
        Assert.Equal("No configuration found for tenant: tenant-a", thrown.Message);
    }

    [Fact]
    public void Multi_tenant_mode_is_recognised_case_insensitively()
    {
        using var store = StoreFactory.Create(TestConfiguration.From(("MULTI_TENANT_MODE", "True"), ("TENANT_AB_DATABASE_URL", "postgresql://u:p@db/ab")));

        Assert.True(store.IsMultiTenant);
    }

    [Fact]
    public void The_database_comes_from_DATABASE_URL()
    {
        var connectionString = SingleTenantDatabase.GetConnectionString(TestConfiguration.From(("DATABASE_URL", "postgresql://u:p@db:5432/app")));

        var b = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        Assert.Equal("db", b.Host);
        Assert.Equal("app", b.Database);
    }

    [Fact]
    public void The_database_comes_from_ConnectionStrings_db()
    {
        const string Aspire = "Host=pg;Database=app;Username=u;Password=p";

        Assert.Equal(Aspire, SingleTenantDatabase.GetConnectionString(TestConfiguration.From(("ConnectionStrings:db", Aspire))));
    }

    [Fact]
    public void ConnectionStrings_db_wins_over_DATABASE_URL()
    {
        var connectionString = SingleTenantDatabase.GetConnectionString(TestConfiguration.From(
            ("ConnectionStrings:db", "Host=aspire;Database=app"),
            ("DATABASE_URL", "postgresql://u:p@seed/app")));

        Assert.Equal("Host=aspire;Database=app", connectionString);
    }

    [Fact]
    public void A_missing_database_is_refused_naming_both_variables()
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() => SingleTenantDatabase.GetConnectionString(TestConfiguration.From()));

        Assert.Contains("ConnectionStrings__db", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("DATABASE_URL", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unparsable_DATABASE_URL_is_refused_naming_the_variable()
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() =>
            SingleTenantDatabase.GetConnectionString(TestConfiguration.From(("DATABASE_URL", "mysql://u:p@db/app"))));

        Assert.StartsWith("DATABASE_URL: the database URL has scheme 'mysql'", thrown.Message, StringComparison.Ordinal);
    }
}
