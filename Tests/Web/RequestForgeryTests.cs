using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tests.Web;

/// <summary>
/// Cross-site request forgery where a cookie signs a request in: a state-changing API call made with the session
/// cookie needs the session's antiforgery token, and one a browser says comes from another origin (a sibling tenant's
/// host included) is refused whatever it carries. Bearer-token calls need neither.
/// </summary>
public sealed class RequestForgeryTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    private const string SiblingOrigin = "http://web-tenant-b.example.test";

    private WebTenant A => webs.WebA;

    [Fact]
    public async Task A_cookie_authenticated_upload_without_a_token_from_a_foreign_origin_is_refused_and_creates_nothing()
    {
        using var admin = await A.AdminAsync(antiforgery: false);
        var before = await A.ScalarAsync("SELECT count(*) FROM imports");

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/imports", UriKind.Relative)) { Content = ExportForm() };
        request.Headers.Add("Origin", SiblingOrigin);
        using var response = await admin.SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.Contains(SiblingOrigin, body, StringComparison.Ordinal);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM imports"));
    }

    [Theory]
    [InlineData("same-site")]
    [InlineData("cross-site")]
    public async Task A_post_a_browser_marks_as_from_another_site_is_refused_even_with_the_token(string fetchSite)
    {
        using var admin = await A.AdminAsync();
        var before = await A.ScalarAsync("SELECT count(*) FROM imports");

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/imports", UriKind.Relative)) { Content = ExportForm() };
        request.Headers.Add("Sec-Fetch-Site", fetchSite);
        using var response = await admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM imports"));
    }

    [Fact]
    public async Task A_cookie_authenticated_upload_without_a_token_is_refused_with_400_naming_the_header_and_creates_nothing()
    {
        using var admin = await A.AdminAsync(antiforgery: false);
        var before = await A.ScalarAsync("SELECT count(*) FROM imports");

        using var response = await admin.PostAsync(new Uri("/api/imports", UriKind.Relative), ExportForm());

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
        Assert.Contains("RequestVerificationToken", body, StringComparison.Ordinal);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM imports"));
    }

    [Fact]
    public async Task The_token_of_another_users_session_is_refused()
    {
        using var admin = await A.AdminAsync();
        using var member = await A.MemberAsync(admin);
        using var bare = await A.AdminAsync(antiforgery: false);
        var membersToken = member.DefaultRequestHeaders.GetValues("RequestVerificationToken").Single();
        var before = await A.ScalarAsync("SELECT count(*) FROM projects");

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/projects", UriKind.Relative)) { Content = JsonContent.Create(new { name = "Forged " + Guid.NewGuid() }) };
        request.Headers.Add("RequestVerificationToken", membersToken);
        using var response = await bare.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, await A.ScalarAsync("SELECT count(*) FROM projects"));
    }

    [Fact]
    public async Task The_same_upload_with_the_sessions_token_from_the_site_itself_is_accepted()
    {
        using var admin = await A.AdminAsync();

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/imports", UriKind.Relative)) { Content = ExportForm() };
        request.Headers.Add("Origin", A.BaseAddress.GetLeftPart(UriPartial.Authority));
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        using var response = await admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task A_bearer_token_upload_needs_no_antiforgery_token()
    {
        using var admin = await A.AdminAsync();
        using var created = await admin.PostAsJsonAsync(new Uri("/api/account/tokens", UriKind.Relative), new { name = "ci " + Guid.NewGuid() });
        var token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString();
        using var ci = A.Anonymous();
        ci.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var response = await ci.PostAsync(new Uri("/api/imports", UriKind.Relative), ExportForm());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Theory]
    [InlineData("POST", "/api/projects", "{\"name\":\"Forged\"}")]
    [InlineData("POST", "/api/notifications/read-all", "")]
    [InlineData("PUT", "/api/account/preferences", "{\"emailPreference\":\"None\"}")]
    [InlineData("POST", "/api/account/tokens", "{\"name\":\"forged\"}")]
    [InlineData("POST", "/api/users", "{\"email\":\"forged@tenant-a.test\",\"name\":\"Forged\",\"isAdmin\":true}")]
    [InlineData("POST", "/api/admin/queues/emails/clean", "{\"state\":\"Failed\"}")]
    [InlineData("DELETE", "/api/admin/queues/emails/jobs/some-job", "")]
    [InlineData("POST", "/api/account/signout", "")]
    public async Task Every_state_changing_api_call_made_with_the_cookie_needs_the_token(string method, string path, string json)
    {
        using var admin = await A.AdminAsync(antiforgery: false);

        using var response = await admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Antiforgery token missing", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sign_in_posted_from_another_origin_is_refused_and_sets_no_session()
    {
        using var browser = A.Anonymous();

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/account/signin", UriKind.Relative))
        {
            Content = JsonContent.Create(new { email = A.AdminEmail, password = TwoTenantWebs.AdminPassword }),
        };
        request.Headers.Add("Origin", SiblingOrigin);
        using var response = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith(A.CookieName, StringComparison.Ordinal));
    }

    /// <summary>A small Testmo export as the import page sends it: multipart with a <c>file</c> part.</summary>
    private static MultipartFormDataContent ExportForm()
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(WebEnqueueTests.Export(1_000));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        form.Add(file, "file", "forged.json");
        return form;
    }
}
