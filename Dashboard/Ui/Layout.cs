using System.Text;
using System.Text.Encodings.Web;

namespace Dashboard.Ui;

/// <summary>The HTML shell every page shares: navigation, the store's drop counters, and the page's script.</summary>
internal static class Layout
{
    private static readonly HtmlEncoder Html = HtmlEncoder.Default;

    public static string Page(string title, string active, string body, string? script = null)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
            .Append(Html.Encode(title)).Append(" · Dashboard</title><link rel=\"stylesheet\" href=\"/assets/dashboard.css\"></head><body>");
        html.Append("<nav><span class=\"brand\">Dashboard</span>");
        foreach (var (href, label) in Navigation)
        {
            html.Append("<a href=\"").Append(href).Append('"').Append(label == active ? " class=\"active\"" : string.Empty)
                .Append('>').Append(label).Append("</a>");
        }
        html.Append("<span id=\"stats\" class=\"stats\"></span></nav><main>").Append(body).Append("</main>");
        html.Append("<script src=\"/assets/dashboard.js\"></script>");
        if (script is not null)
        {
            html.Append("<script>").Append(script).Append("</script>");
        }
        html.Append("</body></html>");
        return html.ToString();
    }

    public static string LoginPage(string message, string returnUrl) =>
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · Dashboard</title>"
        + "<link rel=\"stylesheet\" href=\"/assets/dashboard.css\"></head><body><main class=\"login\"><h1>Dashboard</h1><p>"
        + Html.Encode(message) + "</p><form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"returnUrl\" value=\""
        + Html.Encode(returnUrl) + "\"><input name=\"t\" type=\"password\" placeholder=\"token\" autofocus><button>Log in</button></form></main></body></html>";

    public static string Encode(string? text) => Html.Encode(text ?? string.Empty);

    private static readonly (string Href, string Label)[] Navigation =
    [
        ("/", "Resources"),
        ("/tenants", "Tenants"),
        ("/logs", "Logs"),
        ("/traces", "Traces"),
        ("/metrics", "Metrics"),
    ];
}
