using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;

namespace Tests.Web;

/// <summary>Sign-in and authorization: the API answers 401/403, pages send people to the sign-in page or show 403.</summary>
public sealed partial class WebAccessTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    private WebTenant A => webs.WebA;

    [Theory]
    [InlineData("GET", "/api/projects")]
    [InlineData("POST", "/api/projects")]
    [InlineData("GET", "/api/notifications")]
    [InlineData("POST", "/api/imports")]
    [InlineData("GET", "/api/admin/queues")]
    public async Task The_api_answers_401_without_credentials(string method, string path)
    {
        using var anonymous = A.Anonymous();

        using var response = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)) { Content = JsonContent.Create(new { name = "x" }) });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("/projects")]
    [InlineData("/imports")]
    [InlineData("/admin/queues")]
    public async Task Pages_redirect_to_sign_in_without_a_session(string path)
    {
        using var anonymous = A.Anonymous();

        using var response = await anonymous.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/signin", response.Headers.Location!.AbsolutePath);
        Assert.Contains("ReturnUrl=" + Uri.EscapeDataString(path), response.Headers.Location.Query, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_sign_in_page_and_stylesheet_are_served_without_a_session()
    {
        using var anonymous = A.Anonymous();

        using var page = await anonymous.GetAsync(new Uri("/signin", UriKind.Relative));
        using var css = await anonymous.GetAsync(new Uri("/site.css", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
    }

    [Theory]
    [InlineData("GET", "/api/admin/queues")]
    [InlineData("GET", "/api/admin/queues/emails/jobs")]
    [InlineData("POST", "/api/admin/reindex")]
    [InlineData("GET", "/api/users")]
    [InlineData("GET", "/api/account/tokens")]
    public async Task A_member_who_is_not_an_admin_gets_403_from_admin_endpoints(string method, string path)
    {
        using var admin = await A.AdminAsync();
        using var member = await A.MemberAsync(admin);

        using var response = await member.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)) { Content = JsonContent.Create(new { scope = "All" }) });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task A_member_who_is_not_an_admin_gets_the_not_allowed_page_from_admin_pages()
    {
        using var admin = await A.AdminAsync();
        using var member = await A.MemberAsync(admin);

        using var response = await member.GetAsync(new Uri("/admin/queues", UriKind.Relative));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<h1>Not allowed</h1>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"tenant\" title=\"Tenant\">tenant-a</span>", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/signin?ReturnUrl=%2Fadmin%2Fqueues\">Sign in as someone else", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/imports", "/imports")]
    [InlineData("https://evil.example/phish", "/projects")]
    [InlineData("//evil.example/phish", "/projects")]
    public async Task The_sign_in_page_honours_only_a_local_return_url(string returnUrl, string expected)
    {
        using var browser = A.Anonymous();
        var form = await browser.GetStringAsync(new Uri("/signin?ReturnUrl=" + Uri.EscapeDataString(returnUrl), UriKind.Relative));
        var antiforgery = AntiforgeryToken().Match(form).Groups[1].Value;

        using var response = await browser.PostAsync(new Uri("/signin", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Input.Email"] = A.AdminEmail,
            ["Input.Password"] = TwoTenantWebs.AdminPassword,
            ["ReturnUrl"] = returnUrl,
            ["__RequestVerificationToken"] = antiforgery,
        }));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(expected, response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task The_sign_in_page_shows_a_wrong_password_next_to_the_form_and_signs_nobody_in()
    {
        using var browser = A.Anonymous();
        var form = await browser.GetStringAsync(new Uri("/signin", UriKind.Relative));

        using var response = await browser.PostAsync(new Uri("/signin", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Input.Email"] = A.AdminEmail,
            ["Input.Password"] = "not-the-password",
            ["__RequestVerificationToken"] = AntiforgeryToken().Match(form).Groups[1].Value,
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("The email or the password is not right.", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith(A.CookieName, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_page_post_without_an_antiforgery_token_is_refused()
    {
        using var admin = await A.AdminAsync(antiforgery: false);
        var before = await A.ScalarAsync("SELECT count(*) FROM projects");

        using var response = await admin.PostAsync(new Uri("/projects", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string> { ["Input.Name"] = "Forged" }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("The request could not be accepted", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM projects"));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    internal static partial Regex AntiforgeryToken();
}
