using System.Net;
using System.Net.Http.Json;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// What every response says to the browser: a Content-Security-Policy without inline script or style, no MIME
/// sniffing, no referrer to other sites, no framing; and, over https (here behind a TLS-terminating proxy, as the
/// published topology runs), HSTS and cookies marked Secure.
/// </summary>
public sealed class SecurityHeadersTests(ProxiedWeb proxied) : IClassFixture<ProxiedWeb>
{
    private WebTenant Web => proxied.Web;

    [Theory]
    [InlineData("/projects")]
    [InlineData("/api/projects")]
    [InlineData("/site.css")]
    [InlineData("/projects/987654")]
    [InlineData("/api/projects/987654")]
    public async Task A_signed_in_response_carries_the_csp_nosniff_a_referrer_policy_and_refuses_framing(string path)
    {
        using var admin = await Web.AdminAsync();

        using var response = await admin.GetAsync(new Uri(path, UriKind.Relative));

        var csp = Header(response, "Content-Security-Policy");
        Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("style-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("same-origin", Header(response, "Referrer-Policy"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
    }

    [Fact]
    public async Task The_sign_in_page_carries_the_same_headers_without_a_session()
    {
        using var anonymous = Web.Anonymous();

        using var response = await anonymous.GetAsync(new Uri("/signin", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("script-src 'self'", Header(response, "Content-Security-Policy"), StringComparison.Ordinal);
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
    }

    [Fact]
    public async Task Over_https_the_session_and_antiforgery_cookies_are_secure_http_only_and_named_for_the_tenant_and_hsts_is_sent()
    {
        using var browser = Web.Anonymous();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/account/signin", UriKind.Relative))
        {
            Content = JsonContent.Create(new { email = Web.AdminEmail, password = TwoTenantWebs.AdminPassword }),
        };
        request.Headers.Host = "web-tenant-a.example.test";
        request.Headers.Add("X-Forwarded-Proto", "https");

        using var response = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        var session = Assert.Single(cookies, c => c.StartsWith(".web-tenant-a.session=", StringComparison.Ordinal));
        var antiforgery = Assert.Single(cookies, c => c.StartsWith(".web-tenant-a.antiforgery=", StringComparison.Ordinal));
        Assert.All(new[] { session, antiforgery }, c =>
        {
            Assert.Contains("; secure", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("; httponly", c, StringComparison.OrdinalIgnoreCase);
        });
        Assert.Contains("samesite=lax", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", antiforgery, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("max-age=31536000", Header(response, "Strict-Transport-Security"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_plain_http_cookies_are_not_marked_secure_and_no_hsts_is_sent()
    {
        using var browser = Web.Anonymous();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/account/signin", UriKind.Relative))
        {
            Content = JsonContent.Create(new { email = Web.AdminEmail, password = TwoTenantWebs.AdminPassword }),
        };
        request.Headers.Host = "web-tenant-a.example.test";

        using var response = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var session = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".web-tenant-a.session=", StringComparison.Ordinal));
        Assert.DoesNotContain("; secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : throw new Xunit.Sdk.XunitException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri} has no {name} header.");
}

/// <summary>Tenant A's web app as behind the published topology's ingress: it reads X-Forwarded-Proto and X-Forwarded-For.</summary>
public sealed class ProxiedWeb(TestServers servers) : IAsyncLifetime
{
    private WebOfItsOwn? _own;

    public WebTenant Web => _own!.Web;

    public async ValueTask InitializeAsync() =>
        _own = await WebOfItsOwn.StartAsync(servers, "proxied", environment: ("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true"));

    public async ValueTask DisposeAsync()
    {
        if (_own is not null)
        {
            await _own.DisposeAsync();
        }
    }
}
