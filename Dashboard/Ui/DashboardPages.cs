using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Dashboard.Ui;

/// <summary>
/// The pages: server-rendered shells (navigation, filter forms filled from the query string) whose script polls
/// <c>/api</c> every two seconds and redraws in place, so nothing reloads.
/// </summary>
internal static class DashboardPages
{
    public static void MapDashboardPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Html(Layout.Page("Resources", "Resources", Resources)));
        app.MapGet("/tenants", () => Html(Layout.Page("Tenants", "Tenants", Tenants)));
        app.MapGet("/tenants/{tenant}", (string tenant) => Html(Layout.Page(tenant, "Tenants", Tenant(tenant))));
        app.MapGet("/logs", (string? resource, string? level, string? text, [FromQuery] string[]? attr, string? tenant, string? traceId) =>
            Html(Layout.Page("Logs", "Logs", Logs(resource, level, text, attr ?? [], tenant, traceId))));
        app.MapGet("/traces", (string? resource, string? text, [FromQuery] string[]? attr, string? tenant, bool? errors) =>
            Html(Layout.Page("Traces", "Traces", Traces(resource, text, attr ?? [], tenant, errors == true))));
        app.MapGet("/traces/{traceId}", (string traceId) => Html(Layout.Page("Trace " + traceId, "Traces", Trace(traceId))));
        app.MapGet("/metrics", (string? name, string? groupBy) => Html(Layout.Page("Metrics", "Metrics", Metrics(name, groupBy))));
        app.MapGet("/assets/{name}", Asset).AllowAnonymous();
    }

    private static ContentHttpResult Html(string html) => TypedResults.Content(html, "text/html; charset=utf-8");

    private static string E(string? text) => Layout.Encode(text);

    private const string Resources =
        "<h1>Resources</h1><div id=\"resources\" data-page=\"resources\"><p class=\"muted\">Loading…</p></div>"
        + "<section id=\"console\" hidden><h2>Console: <span id=\"console-name\"></span></h2><pre id=\"console-lines\" class=\"console\"></pre></section>";

    private const string Tenants =
        "<h1>Tenants</h1><p class=\"muted\">Per queue over the last <select id=\"minutes\"><option>1</option><option selected>5</option><option>15</option><option>60</option></select> minutes, from the Queue meter.</p>"
        + "<div id=\"tenants\" data-page=\"tenants\"><p class=\"muted\">Loading…</p></div>"
        + "<div class=\"charts\"><figure><figcaption>Jobs completed per minute, per tenant</figcaption><canvas id=\"chart-throughput\" width=\"560\" height=\"220\"></canvas></figure>"
        + "<figure><figcaption>Mean wait time (s), per tenant</figcaption><canvas id=\"chart-wait\" width=\"560\" height=\"220\"></canvas></figure></div>";

    private static string Tenant(string tenant) =>
        $"<h1>Tenant <span id=\"tenant-name\">{E(tenant)}</span></h1>"
        + $"<p><a href=\"/logs?tenant={Uri.EscapeDataString(tenant)}\">Logs of {E(tenant)}</a> · <a href=\"/traces?tenant={Uri.EscapeDataString(tenant)}\">Traces of {E(tenant)}</a> · <a href=\"/traces?tenant={Uri.EscapeDataString(tenant)}&amp;errors=true\">Failed traces</a></p>"
        + $"<div id=\"tenant\" data-page=\"tenant\" data-tenant=\"{E(tenant)}\"><p class=\"muted\">Loading…</p></div>"
        + "<div class=\"charts\"><figure><figcaption>Jobs completed per minute, per queue</figcaption><canvas id=\"chart-throughput\" width=\"560\" height=\"220\"></canvas></figure>"
        + "<figure><figcaption>Mean wait time (s), per queue</figcaption><canvas id=\"chart-wait\" width=\"560\" height=\"220\"></canvas></figure></div>"
        + "<h2>Recent failures</h2><div id=\"failures\"><p class=\"muted\">Loading…</p></div>";

    private static string Logs(string? resource, string? level, string? text, string[] attributes, string? tenant, string? traceId)
    {
        var form = new StringBuilder("<h1>Structured logs</h1><form class=\"filters\" method=\"get\" action=\"/logs\">");
        form.Append(Field("resource", "Resource", resource, "services"))
            .Append("<label>Level <select name=\"level\"><option value=\"\">any</option>");
        foreach (var name in Telemetry.LogQueries.LevelNames)
        {
            form.Append("<option").Append(name == level ? " selected" : string.Empty).Append('>').Append(name).Append("</option>");
        }
        form.Append("</select></label>")
            .Append(Field("text", "Text", text))
            .Append(Field("tenant", "tenant.id", tenant));
        foreach (var attribute in attributes.Append(string.Empty))
        {
            form.Append(Field("attr", "Attribute (key=value)", attribute));
        }
        if (traceId is { Length: > 0 })
        {
            form.Append(Field("traceId", "Trace", traceId));
        }
        form.Append("<button>Filter</button> <a href=\"/logs\">clear</a></form><datalist id=\"services\"></datalist>")
            .Append("<div id=\"logs\" data-page=\"logs\"><p class=\"muted\">Loading…</p></div>");
        return form.ToString();
    }

    private static string Traces(string? resource, string? text, string[] attributes, string? tenant, bool errors)
    {
        var form = new StringBuilder("<h1>Traces</h1><form class=\"filters\" method=\"get\" action=\"/traces\">");
        form.Append(Field("resource", "Resource", resource, "services"))
            .Append(Field("text", "Text", text))
            .Append(Field("tenant", "tenant.id", tenant));
        foreach (var attribute in attributes.Append(string.Empty))
        {
            form.Append(Field("attr", "Attribute (key=value)", attribute));
        }
        form.Append("<label><input type=\"checkbox\" name=\"errors\" value=\"true\"").Append(errors ? " checked" : string.Empty).Append("> errors only</label>")
            .Append("<button>Filter</button> <a href=\"/traces\">clear</a></form><datalist id=\"services\"></datalist>")
            .Append("<div id=\"traces\" data-page=\"traces\"><p class=\"muted\">Loading…</p></div>");
        return form.ToString();
    }

    private static string Trace(string traceId) =>
        $"<h1>Trace <code>{E(traceId)}</code></h1><p><a href=\"/logs?traceId={Uri.EscapeDataString(traceId)}\">Logs of this trace</a></p>"
        + $"<div id=\"trace\" data-page=\"trace\" data-trace=\"{E(traceId)}\"><p class=\"muted\">Loading…</p></div>"
        + "<section id=\"span-details\" hidden><h2>Span</h2><table class=\"attributes\"></table></section>";

    private static string Metrics(string? name, string? groupBy) =>
        "<h1>Metrics</h1><form class=\"filters\" method=\"get\" action=\"/metrics\">"
        + $"<label>Instrument <select name=\"name\" id=\"metric-names\" data-selected=\"{E(name ?? "queue.jobs.completed")}\"></select></label>"
        + Field("groupBy", "Group by attribute", groupBy ?? "tenant.id")
        + "<button>Show</button></form>"
        + "<div id=\"metrics\" data-page=\"metrics\"><figure><figcaption id=\"metric-caption\"></figcaption><canvas id=\"chart-metric\" width=\"900\" height=\"300\"></canvas></figure></div>";

    private static string Field(string name, string label, string? value, string? list = null) =>
        $"<label>{E(label)} <input name=\"{name}\" value=\"{E(value)}\"{(list is null ? string.Empty : $" list=\"{list}\"")}></label>";

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
