using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hosting.Orchestration;

/// <summary>
/// The AppHost's resource API for the Dashboard, on 127.0.0.1 and a free port, every call with
/// <c>Authorization: Bearer &lt;key&gt;</c>:
/// <list type="bullet">
/// <item><c>GET /resources</c>: every resource with type, state, health, start time, endpoints, environment (secret values masked).</item>
/// <item><c>GET /resources/{name}/console</c>: its last output lines (replicas prefixed <c>[name-N]</c>).</item>
/// <item><c>POST /resources/{name}/{stop|start|restart}</c>: 202, or 409 when the resource cannot do it now (infrastructure is not restartable).</item>
/// </list>
/// </summary>
internal sealed class ResourceService(RunContext context, string apiKey) : IAsyncDisposable
{
    private const string Masked = "••••••••";
    private WebApplication? _app;

    public Uri? Url { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        // Ctrl+C and SIGTERM belong to the AppHost, which stops this API last.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, SignalFreeLifetime>();
        var app = builder.Build();
        app.Use(async (http, next) =>
        {
            var given = Encoding.UTF8.GetBytes(http.Request.Headers.Authorization.ToString());
            if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes("Bearer " + apiKey)))
            {
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }
            await next(http);
        });
        app.MapGet("/resources", () => TypedResults.Ok(new { resources = context.Runs.Values.Select(Describe).ToList() }));
        app.MapGet("/resources/{name}/console", (string name) => Find(name) is null
            ? Results.NotFound()
            : Results.Ok(new { lines = context.Console.Lines(name) }));
        app.MapPost("/resources/{name}/{action}", ControlAsync);
        await app.StartAsync(cancellationToken);
        _app = app;
        Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private ResourceRun? Find(string name) => context.Runs.Values.FirstOrDefault(r => r.Resource.Name == name);

    private async Task<IResult> ControlAsync(string name, string action)
    {
        var run = Find(name);
        if (run is null)
        {
            return Results.NotFound();
        }
        if (!run.CanBeRestarted)
        {
            return Results.Conflict($"'{name}' ({run.Type}) is infrastructure the AppHost does not restart.");
        }
        try
        {
            switch (action)
            {
                case "stop":
                    context.Output.Write("apphost", $"{name}: stop requested from the Dashboard");
                    await run.StopAsync();
                    break;
                case "start":
                    context.Output.Write("apphost", $"{name}: start requested from the Dashboard");
                    run.Restart();
                    break;
                case "restart":
                    context.Output.Write("apphost", $"{name}: restart requested from the Dashboard");
                    await run.StopAsync();
                    run.Restart();
                    break;
                default:
                    return Results.BadRequest("Actions: stop, start, restart.");
            }
        }
        catch (InvalidOperationException ex)
        {
            return Results.Conflict(ex.Message);
        }
        return Results.Accepted();
    }

    private object Describe(ResourceRun run)
    {
        var snapshot = run.Snapshot();
        var resource = run.Resource as Resource;
        var environment = new List<object>();
        if (resource is not null)
        {
            foreach (var (name, value) in resource.Environment)
            {
                environment.Add(Variable(name, value.IsSecret, () => value.Render(ValueTarget.Run)));
            }
            if (resource is ProjectResource)
            {
                foreach (var (name, value) in context.OtlpEnvironment.Where(e => resource.Environment.All(d => d.Key != e.Key)))
                {
                    environment.Add(Variable(name, name == "OTEL_EXPORTER_OTLP_HEADERS", () => value));
                }
            }
        }
        return new
        {
            name = snapshot.Name,
            type = snapshot.Type,
            state = snapshot.State.ToString(),
            health = snapshot.State switch
            {
                ResourceState.Healthy => "Healthy",
                ResourceState.Running => "Unhealthy",
                _ => null,
            },
            startTime = run.StartedAt,
            endpoints = resource?.Endpoints.SelectMany(e => e.AllocatedPorts.Select((port, replica) => new
            {
                name = e.AllocatedPorts.Count > 1 ? $"{e.Name}-{replica.ToString(CultureInfo.InvariantCulture)}" : e.Name,
                url = $"{e.Scheme}://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            })).ToList(),
            environment,
            processIds = snapshot.ProcessIds,
            error = snapshot.Error,
            canBeRestarted = run.CanBeRestarted,
        };
    }

    private static object Variable(string name, bool secret, Func<string> render)
    {
        string value;
        try
        {
            value = secret ? Masked : render();
        }
        catch (InvalidOperationException)
        {
            value = "(not allocated)";
        }
        return new { name, value, secret };
    }
}

/// <summary>A host lifetime that leaves process signals alone.</summary>
internal sealed class SignalFreeLifetime : Microsoft.Extensions.Hosting.IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
