using System.Net;
using Dashboard.Extensions;
using Dashboard.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
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

    private DashboardHost(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

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
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.AddDashboardServices();
        var app = builder.Build();
        app.MapDashboard();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new DashboardHost(app, new Uri(address));
    }

    public Uri Url(string relative) => new(BaseAddress, relative);

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
