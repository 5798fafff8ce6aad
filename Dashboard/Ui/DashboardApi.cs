using Dashboard.Telemetry;

namespace Dashboard.Ui;

/// <summary>The JSON the pages poll: everything under <c>/api</c>, behind the login.</summary>
internal static class DashboardApi
{
    public static void MapDashboardApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api");
        api.MapGet("stats", (TelemetryStore store) => TypedResults.Ok(store.Stats()));
    }
}
