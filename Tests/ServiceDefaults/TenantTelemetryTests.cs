using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Trace;
using Tenancy;

namespace Tests.ServiceDefaults;

public sealed class TenantTelemetryTests
{
    private static readonly ActivitySource Source = new("Tests.TenantTelemetry");

    [Fact]
    public async Task Spans_and_logs_inside_a_tenant_scope_carry_tenant_id_and_others_do_not()
    {
        var spans = new List<Activity>();
        var logs = new List<LogRecord>();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "Tests.TenantTelemetry", EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection([new("OTEL_EXPORTER_OTLP_ENDPOINT", "")]);
        builder.AddBasicServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddSource(Source.Name).AddInMemoryExporter(spans));
        builder.Logging.AddOpenTelemetry(o => o.AddInMemoryExporter(logs));
        using var host = builder.Build();
        await host.StartAsync();
        var logger = host.Services.GetRequiredService<ILogger<TenantTelemetryTests>>();

        using (TenantScope.Begin(TenantId.Parse("tenant-a")))
        {
            using var span = Source.StartActivity("inside");
            logger.LogInformation("inside a tenant");
        }
        using (Source.StartActivity("outside"))
        {
            logger.LogInformation("outside any tenant");
        }
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();
        await host.StopAsync();

        Assert.Equal("tenant-a", spans.Single(s => s.DisplayName == "inside").GetTagItem("tenant.id"));
        Assert.Null(spans.Single(s => s.DisplayName == "outside").GetTagItem("tenant.id"));
        var inside = logs.Single(l => l.FormattedMessage == "inside a tenant");
        Assert.Contains(inside.Attributes!, a => a.Key == "tenant.id" && (string?)a.Value == "tenant-a");
        var outside = logs.Single(l => l.FormattedMessage == "outside any tenant");
        Assert.DoesNotContain(outside.Attributes ?? [], a => a.Key == "tenant.id");
    }
}
