using System.Net;
using System.Net.Sockets;
using Dashboard.Extensions;
using Dashboard.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tests.Dashboard;

/// <summary>The Dashboard hosted in the test process exactly as its Program does, on 127.0.0.1 and a free port.</summary>
internal sealed class DashboardHost : IAsyncDisposable
{
    public const string ApiKey = "test-otlp-key";
    public const string LoginToken = "test-login-token";

    private readonly WebApplication _app;

    private DashboardHost(WebApplication app, Uri baseAddress, Uri grpcAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        GrpcAddress = grpcAddress;
    }

    /// <summary>The UI and OTLP/HTTP (HTTP/1.1).</summary>
    public Uri BaseAddress { get; }

    /// <summary>OTLP/gRPC (HTTP/2 without TLS).</summary>
    public Uri GrpcAddress { get; }

    public TelemetryStore Store => _app.Services.GetRequiredService<TelemetryStore>();

    public static async Task<DashboardHost> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "Dashboard" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Dashboard:OtlpApiKey"] = ApiKey,
            ["Dashboard:LoginToken"] = LoginToken,
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        var (httpPort, grpcPort) = (FreePort(), FreePort());
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, httpPort);
            kestrel.Listen(IPAddress.Loopback, grpcPort, listen => listen.Protocols = HttpProtocols.Http2);
        });
        builder.Logging.ClearProviders();
        builder.AddDashboardServices();
        var app = builder.Build();
        app.MapDashboard();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new DashboardHost(app, new Uri($"http://127.0.0.1:{httpPort}"), new Uri($"http://127.0.0.1:{grpcPort}"));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public Uri Url(string relative) => new(BaseAddress, relative);

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
