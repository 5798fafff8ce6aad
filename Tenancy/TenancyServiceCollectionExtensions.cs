using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tenancy;

/// <summary>Registers tenancy: the current-tenant accessor and the tenant settings store.</summary>
public static class TenancyServiceCollectionExtensions
{
    /// <summary>
    /// Adds tenancy to the application (see <see cref="AddTenancy(IServiceCollection)"/>) after checking the tenant
    /// configuration at once: a <see cref="TenantConfigurationException"/> is thrown from here, and a configuration error
    /// left unhandled ends the process with exit code 1 and its message, without a stack trace (<see cref="ConfigurationFailure"/>).
    /// </summary>
    public static IHostApplicationBuilder AddTenancy(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ConfigurationFailure.ExitOnUnhandled();
        // Validated now, before there is a host: a refusal ends the process with its message (exit code 1), instead of
        // a host failing to start with a stack trace. The store the services use is built again from the same values.
        using (new TenantSettingsStore(builder.Configuration, NullLogger<TenantSettingsStore>.Instance, TimeProvider.System))
        {
        }
        builder.Services.AddTenancy();
        return builder;
    }

    /// <summary>
    /// Registers <see cref="ICurrentTenant"/> (<see cref="AmbientCurrentTenant"/>), <see cref="ITenantSettingsStore"/>
    /// over the registered <see cref="IConfiguration"/>, and <see cref="TimeProvider.System"/> unless a
    /// <see cref="TimeProvider"/> is already registered. The store is loaded and validated when the host starts, so
    /// a bad tenant configuration stops the process with a <see cref="TenantConfigurationException"/> instead of
    /// failing jobs later. Safe to call more than once.
    /// </summary>
    public static IServiceCollection AddTenancy(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ICurrentTenant, AmbientCurrentTenant>();
        services.TryAddSingleton(sp => new TenantSettingsStore(
            sp.GetRequiredService<IConfiguration>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<TenantSettingsStore>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ITenantSettingsStore>(sp => sp.GetRequiredService<TenantSettingsStore>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TenantSettingsValidation>());
        return services;
    }
}

/// <summary>Resolves the store when the host starts: the store validates in its constructor, so this fails fast.</summary>
internal sealed class TenantSettingsValidation(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<ITenantSettingsStore>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
