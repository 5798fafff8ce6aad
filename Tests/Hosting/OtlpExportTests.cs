using Hosting.Orchestration;
using Microsoft.Extensions.Configuration;

namespace Tests.Hosting;

/// <summary>Run mode gives every project the AppHost's OTLP endpoint, when it has one.</summary>
public sealed class OtlpExportTests
{
    [Fact]
    public void Without_an_endpoint_projects_get_no_export_settings()
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(["--OTEL_BSP_SCHEDULE_DELAY", "500"]).Build();

        Assert.Empty(OtlpExport.Environment(configuration));
    }

    [Fact]
    public void An_endpoint_in_the_configuration_comes_with_short_batch_delays_that_the_configuration_can_override()
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(
        [
            "--OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318",
            "--OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
            "--OTEL_BSP_SCHEDULE_DELAY", "500",
        ]).Build();

        var environment = OtlpExport.Environment(configuration);

        Assert.Equal("http://127.0.0.1:4318", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Equal("http/protobuf", environment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Equal("500", environment["OTEL_BSP_SCHEDULE_DELAY"]);
        Assert.Equal("1000", environment["OTEL_BLRP_SCHEDULE_DELAY"]);
        Assert.False(environment.ContainsKey("OTEL_EXPORTER_OTLP_HEADERS"));
    }

    [Fact]
    public void Without_an_endpoint_in_the_configuration_projects_export_to_the_dashboard_with_its_api_key()
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(["--OTEL_BSP_SCHEDULE_DELAY", "500"]).Build();

        var environment = OtlpExport.Environment(configuration, "http://127.0.0.1:18888", "the-key");

        Assert.Equal("http://127.0.0.1:18888", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Equal("http/protobuf", environment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Equal("x-otlp-api-key=the-key", environment["OTEL_EXPORTER_OTLP_HEADERS"]);
        Assert.Equal("500", environment["OTEL_BSP_SCHEDULE_DELAY"]);
    }

    [Fact]
    public void An_endpoint_in_the_configuration_wins_over_the_dashboard()
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(["--OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"]).Build();

        var environment = OtlpExport.Environment(configuration, "http://127.0.0.1:18888", "the-key");

        Assert.Equal("http://127.0.0.1:4318", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.False(environment.ContainsKey("OTEL_EXPORTER_OTLP_HEADERS"));
    }
}
