namespace Dashboard.Ui;

/// <summary>The pages: server-rendered shells whose script polls <c>/api</c> and redraws without reloading.</summary>
internal static class DashboardPages
{
    public static void MapDashboardPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Html(Layout.Page("Resources", "Resources", "<h1>Resources</h1>")));
        app.MapGet("/assets/{name}", Asset).AllowAnonymous();
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ContentHttpResult Html(string html) => TypedResults.Content(html, "text/html; charset=utf-8");

    private static IResult Asset(string name)
    {
        var stream = typeof(DashboardPages).Assembly.GetManifestResourceStream("Dashboard.Assets." + name);
        if (stream is null)
        {
            return TypedResults.NotFound();
        }
        var contentType = name.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript" : "text/css";
        return TypedResults.Stream(stream, contentType);
    }
}
