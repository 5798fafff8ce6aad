using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tenancy;

namespace Tests.Tenancy;

public sealed class AddTenancyTests
{
    private static IHost BuildHost(CapturingLoggerProvider logs, params (string Key, string? Value)[] configuration)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration.Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)));
        builder.Logging.AddProvider(logs);
        builder.AddTenancy();
        return builder.Build();
    }

    [Fact]
    public void A_bad_tenant_configuration_stops_the_application_before_it_has_a_host()
    {
        var thrown = Assert.Throws<TenantConfigurationException>(() => BuildHost(new CapturingLoggerProvider(), ("MULTI_TENANT_MODE", "true"), ("TENANT_CONFIGS", "{ \"Bad\": {} }")));
        Assert.Contains("'Bad'", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_multi_tenant_configuration_stops_the_application_before_it_has_a_host()
    {
        Assert.Throws<TenantConfigurationException>(() => BuildHost(new CapturingLoggerProvider(), ("MULTI_TENANT_MODE", "true")));
    }

    [Fact]
    public async Task A_bad_tenant_configuration_registered_on_services_stops_the_host_at_startup()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection([new("MULTI_TENANT_MODE", "true"), new("TENANT_CONFIGS", "{ \"Bad\": {} }")]);
        builder.Services.AddTenancy();
        using var host = builder.Build();

        await Assert.ThrowsAsync<TenantConfigurationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_good_configuration_is_loaded_and_logged_when_the_host_starts()
    {
        var logs = new CapturingLoggerProvider();
        using var host = BuildHost(logs, ("MULTI_TENANT_MODE", "true"), ("TENANT_TENANT_A_DATABASE_URL", "postgresql://u:p@db/a"));

        await host.StartAsync(TestContext.Current.CancellationToken);

        Assert.Contains(logs.Entries, e => e.Message == "Loaded 1 tenant configurations from TENANT_<ID>_* variables");
        var store = host.Services.GetRequiredService<ITenantSettingsStore>();
        Assert.True(store.IsMultiTenant);
        Assert.Equal("postgresql://u:p@db/a", store.Get(TenantId.Parse("tenant-a")).DatabaseUrl);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Registers_the_ambient_current_tenant_and_one_store_as_singletons()
    {
        using var host = BuildHost(new CapturingLoggerProvider());

        Assert.IsType<AmbientCurrentTenant>(host.Services.GetRequiredService<ICurrentTenant>());
        Assert.Same(host.Services.GetRequiredService<ICurrentTenant>(), host.Services.GetRequiredService<ICurrentTenant>());
        Assert.Same(host.Services.GetRequiredService<ITenantSettingsStore>(), host.Services.GetRequiredService<ITenantSettingsStore>());
        Assert.Same(TimeProvider.System, host.Services.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void Keeps_a_TimeProvider_registered_before_it()
    {
        var fake = new FakeTimeProvider();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(TestConfiguration.From())
            .AddSingleton<TimeProvider>(fake)
            .AddTenancy();

        using var provider = services.BuildServiceProvider();

        Assert.Same(fake, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void Calling_it_twice_registers_one_startup_validation()
    {
        var services = new ServiceCollection().AddTenancy().AddTenancy();

        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        Assert.Single(services, d => d.ServiceType == typeof(ITenantSettingsStore));
    }
}
