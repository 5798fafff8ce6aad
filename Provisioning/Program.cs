using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Provisioning;
using Tenancy;

// tenant-provisioning [provision | wait]
//   provision (default): every tenant of the tenant settings (MULTI_TENANT_MODE=true with TENANT_CONFIG_FILE, TENANT_CONFIGS
//                        or TENANT_<ID>_* variables) on the server of ConnectionStrings__postgres or DATABASE_ADMIN_URL.
//                        Exit code 0 when every tenant is provisioned, 1 when any failed (each failure names its tenant).
//   wait:                until the role of ConnectionStrings__db (or DATABASE_URL) can connect to its database.
var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "provision";
var builder = Host.CreateApplicationBuilder(args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args);
builder.AddBasicServiceDefaults();
// Validates the tenant settings at once: a bad one ends the process with exit code 1 and its message.
builder.AddTenancy();
using var host = builder.Build();
var loggers = host.Services.GetRequiredService<ILoggerFactory>();
var time = host.Services.GetRequiredService<TimeProvider>();
var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
await host.StartAsync();
int exitCode;
try
{
    exitCode = command switch
    {
        "provision" => await ProvisionCommand.RunAsync(builder.Configuration, host.Services.GetRequiredService<ITenantSettingsStore>(), loggers, time, stopping),
        "wait" => await WaitCommand.RunAsync(builder.Configuration, loggers, time, stopping),
        _ => Usage(command),
    };
}
catch (TenantConfigurationException e)
{
    Console.Error.WriteLine($"tenant-provisioning: configuration error: {e.Message}");
    exitCode = 1;
}
// Flushes the telemetry exporters, so the last lines reach the collector.
await host.StopAsync();
return exitCode;

static int Usage(string command)
{
    Console.Error.WriteLine($"tenant-provisioning: unknown command '{command}'; use 'provision' (the default) or 'wait'.");
    return 2;
}
