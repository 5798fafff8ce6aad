using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Tests.Infrastructure;
using Tests.Otlp;

namespace Tests.Web;

/// <summary>
/// Guessing passwords against one tenant's web app: 20 failures lock an account (here for 4 s instead of 15 minutes),
/// the right password included, in every replica; a success forgets failures; an administrator unlocks; API tokens
/// keep working; failures across accounts from one address lock the address. Each test signs in from a client address
/// of its own (the app sits behind a proxy here, so <c>X-Forwarded-For</c> names the client), as users do.
/// </summary>
public sealed class SignInThrottleTests(LockoutWeb lockout) : IClassFixture<LockoutWeb>
{
    private const string MemberPassword = "member-password-1";

    private WebTenant Web => lockout.Own.Web;

    [Fact]
    public async Task Twenty_wrong_passwords_lock_the_account_the_right_one_is_refused_with_429_until_the_lockout_ends_then_it_signs_in()
    {
        var email = await lockout.NewMemberAsync();
        using var client = Web.Anonymous();
        const string address = "198.51.100.1";

        for (var i = 1; i <= 20; i++)
        {
            using var wrong = await SignInAsync(client, email, "not-the-password", address);
            Assert.True(wrong.StatusCode == HttpStatusCode.Unauthorized, $"attempt {i}: {(int)wrong.StatusCode}");
        }
        using var locked = await SignInAsync(client, email, MemberPassword, address);

        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        var retryAfter = RetryAfter(locked);
        Assert.InRange(retryAfter, 1, LockoutWeb.LockoutSeconds);
        Assert.Contains("This account is locked after too many failed sign-ins", await DetailAsync(locked), StringComparison.Ordinal);
        Assert.DoesNotContain(locked.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith(Web.CookieName, StringComparison.Ordinal));
        using (var me = await client.GetAsync(new Uri("/api/account/me", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }

        await Task.Delay(TimeSpan.FromSeconds(retryAfter + 0.5), TestContext.Current.CancellationToken);
        using var after = await SignInAsync(client, email, MemberPassword, address);

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task While_an_account_is_locked_the_sign_in_form_says_so_with_429_and_signs_nobody_in()
    {
        var email = await lockout.NewMemberAsync();
        await LockAsync(email, "198.51.100.2");
        using var browser = Web.Anonymous();
        var form = await browser.GetStringAsync(new Uri("/signin", UriKind.Relative));

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/signin", UriKind.Relative))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["Input.Email"] = email,
                ["Input.Password"] = MemberPassword,
                ["__RequestVerificationToken"] = WebAccessTests.AntiforgeryToken().Match(form).Groups[1].Value,
            }),
        };
        request.Headers.Add("X-Forwarded-For", "198.51.100.2");
        using var response = await browser.SendAsync(request);

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.InRange(RetryAfter(response), 1, LockoutWeb.LockoutSeconds);
        Assert.Matches("This account is locked after too many failed sign-ins. Try again in [0-9]+ seconds, or ask an administrator to unlock it.", html);
        Assert.Contains("<form method=\"post\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith(Web.CookieName, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_lockout_made_at_one_replica_holds_at_another_replica_of_the_tenants_app()
    {
        var email = await lockout.NewMemberAsync();
        await using var replica = ServiceHost.Start("Web", Web.Environment(lockout.Own.Valkey.ConnectionString, LockoutWeb.Settings));
        await replica.WaitUntilHealthyAsync(TimeSpan.FromSeconds(90));

        await LockAsync(email, "198.51.100.3");
        using var atReplica = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = replica.BaseAddress };
        using var refused = await SignInAsync(atReplica, email, MemberPassword, "198.51.100.3");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
    }

    [Fact]
    public async Task The_lockout_is_logged_as_a_warning_with_the_tenant()
    {
        var email = await lockout.NewMemberAsync();

        await LockAsync(email, "198.51.100.4");

        LogRecordEntry? Lockout() => lockout.Otlp.Logs.FirstOrDefault(l => l.Message.Contains($"Sign-in to account {email} locked until", StringComparison.Ordinal));
        await Wait.UntilAsync(() => Lockout() is not null, "the lockout's log record arrives");
        var record = Lockout()!;
        Assert.Equal("Warning", record.Level);
        Assert.Equal("tenant-a", record.Attributes.GetValueOrDefault("tenant.id"));
        Assert.Contains("after 20 failed attempts; the last came from 198.51.100.4", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_administrator_sees_the_lock_and_unlocks_the_account_through_the_api_and_it_signs_in_at_once()
    {
        var email = await lockout.NewMemberAsync();
        await LockAsync(email, "198.51.100.5");
        using var admin = await Web.AdminAsync();

        var user = await FindUserAsync(admin, email);
        Assert.Equal(20, user.GetProperty("failedSignIns").GetInt32());
        Assert.Equal(JsonValueKind.String, user.GetProperty("lockedUntil").ValueKind);
        using var unlock = await admin.PostAsync(new Uri($"/api/users/{user.GetProperty("id").GetInt64()}/unlock", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.NoContent, unlock.StatusCode);

        using var client = Web.Anonymous();
        using var signedIn = await SignInAsync(client, email, MemberPassword, "198.51.100.5");
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        var after = await FindUserAsync(admin, email);
        Assert.Equal(0, after.GetProperty("failedSignIns").GetInt32());
        Assert.Equal(JsonValueKind.Null, after.GetProperty("lockedUntil").ValueKind);
    }

    [Fact]
    public async Task An_administrator_unlocks_an_account_on_the_users_page()
    {
        var email = await lockout.NewMemberAsync();
        await LockAsync(email, "198.51.100.6");
        using var admin = await Web.AdminAsync(antiforgery: false);
        var id = (await FindUserAsync(admin, email)).GetProperty("id").GetInt64();

        var page = await admin.GetStringAsync(new Uri("/admin/users", UriKind.Relative));
        var row = System.Text.RegularExpressions.Regex.Match(page, $"<tr data-user=\"{id}\">.*?</tr>", System.Text.RegularExpressions.RegexOptions.Singleline).Value;
        Assert.Contains("Locked until", row, StringComparison.Ordinal);
        Assert.Contains("after 20 failed sign-ins", row, StringComparison.Ordinal);
        using var unlock = await admin.PostAsync(new Uri($"/admin/users?handler=Unlock&userId={id}", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebAccessTests.AntiforgeryToken().Match(page).Groups[1].Value,
        }));

        Assert.Equal(HttpStatusCode.Redirect, unlock.StatusCode);
        using var client = Web.Anonymous();
        using var signedIn = await SignInAsync(client, email, MemberPassword, "198.51.100.6");
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
    }

    [Fact]
    public async Task A_locked_accounts_api_token_keeps_working_and_needs_no_antiforgery_token()
    {
        var email = await lockout.NewMemberAsync(isAdmin: true);
        using var session = await Web.SignedInAsync(email, MemberPassword);
        using var created = await session.PostAsJsonAsync(new Uri("/api/account/tokens", UriKind.Relative), new { name = "ci" });
        var token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString();
        await LockAsync(email, "198.51.100.7");

        using var ci = Web.Anonymous();
        ci.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var read = await ci.GetAsync(new Uri("/api/projects", UriKind.Relative));
        using var write = await ci.PostAsJsonAsync(new Uri("/api/projects", UriKind.Relative), new { name = "By token " + Guid.NewGuid() });

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Created, write.StatusCode);
    }

    [Fact]
    public async Task A_successful_sign_in_forgets_the_failures_before_it()
    {
        var email = await lockout.NewMemberAsync();
        using var client = Web.Anonymous();

        // From two addresses, so that 38 failures in all stay under the address's own limit (30).
        await FailAsync(client, email, "198.51.100.8", 19);
        using (var success = await SignInAsync(client, email, MemberPassword, "198.51.100.8"))
        {
            Assert.Equal(HttpStatusCode.OK, success.StatusCode);
        }
        await FailAsync(client, email, "198.51.100.18", 19);
        using var again = await SignInAsync(client, email, MemberPassword, "198.51.100.18");

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task A_made_up_email_locks_exactly_like_a_real_account_so_the_answer_reveals_nothing()
    {
        var email = $"nobody-{Guid.NewGuid():N}@tenant-a.test";
        using var client = Web.Anonymous();

        await FailAsync(client, email, "198.51.100.9", 20);
        using var locked = await SignInAsync(client, email, "any-password", "198.51.100.9");

        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Contains("This account is locked after too many failed sign-ins", await DetailAsync(locked), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failures_across_accounts_from_one_address_lock_that_address_and_no_other()
    {
        var email = await lockout.NewMemberAsync();
        using var client = Web.Anonymous();
        const string guesser = "203.0.113.10";
        for (var i = 0; i < LockoutWeb.AddressLockoutAfter; i++)
        {
            using var wrong = await SignInAsync(client, $"guess-{i}-{Guid.NewGuid():N}@tenant-a.test", "password-guess", guesser);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var fromGuesser = await SignInAsync(client, email, MemberPassword, guesser);
        using var fromElsewhere = await SignInAsync(client, email, MemberPassword, "203.0.113.11");

        Assert.Equal(HttpStatusCode.TooManyRequests, fromGuesser.StatusCode);
        Assert.Contains("from your network address", await DetailAsync(fromGuesser), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, fromElsewhere.StatusCode);
    }

    /// <summary>Twenty wrong passwords: the account is locked for <see cref="LockoutWeb.LockoutSeconds"/>.</summary>
    private async Task LockAsync(string email, string address)
    {
        using var client = Web.Anonymous();
        await FailAsync(client, email, address, 20);
        using var check = await SignInAsync(client, email, MemberPassword, address);
        Assert.Equal(HttpStatusCode.TooManyRequests, check.StatusCode);
    }

    private static async Task FailAsync(HttpClient client, string email, string address, int times)
    {
        for (var i = 0; i < times; i++)
        {
            using var wrong = await SignInAsync(client, email, "not-the-password", address);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
    }

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string email, string password, string address)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/account/signin", UriKind.Relative))
        {
            Content = JsonContent.Create(new { email, password }),
        };
        request.Headers.Add("X-Forwarded-For", address);
        return await client.SendAsync(request);
    }

    private static long RetryAfter(HttpResponseMessage response) =>
        (long)(response.Headers.RetryAfter?.Delta?.TotalSeconds ?? throw new Xunit.Sdk.XunitException("No Retry-After in seconds."));

    private static async Task<string> DetailAsync(HttpResponseMessage response)
    {
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
    }

    private static async Task<JsonElement> FindUserAsync(HttpClient admin, string email)
    {
        for (var page = 1; ; page++)
        {
            var body = await admin.GetFromJsonAsync<JsonElement>(new Uri($"/api/users?page={page}&pageSize=200", UriKind.Relative));
            var items = body.GetProperty("items");
            if (items.GetArrayLength() == 0)
            {
                throw new Xunit.Sdk.XunitException($"No user {email}.");
            }
            foreach (var user in items.EnumerateArray())
            {
                if (user.GetProperty("email").GetString() == email)
                {
                    return user;
                }
            }
        }
    }
}

/// <summary>
/// Tenant A's web app behind a proxy (it honours X-Forwarded-For), locking an account after 20 failures for
/// <see cref="LockoutSeconds"/> s and an address after <see cref="AddressLockoutAfter"/>, its telemetry sent to
/// <see cref="Otlp"/>.
/// </summary>
public sealed class LockoutWeb(TestServers servers) : IAsyncLifetime
{
    public const int LockoutSeconds = 4;
    public const int AddressLockoutAfter = 30;

    internal static readonly (string, string)[] Settings =
    [
        ("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true"),
        // The slow-down tier is off (it starts where the lockout does); its own test has its own app.
        ("SIGNIN_THROTTLE_AFTER", "20"),
        ("SIGNIN_LOCKOUT_AFTER", "20"),
        ("SIGNIN_LOCKOUT_SECONDS", LockoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("SIGNIN_ADDRESS_LOCKOUT_AFTER", AddressLockoutAfter.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    private OtlpReceiver? _otlp;
    private WebOfItsOwn? _own;
    private HttpClient? _admin;

    internal WebOfItsOwn Own => _own!;

    internal OtlpReceiver Otlp => _otlp!;

    public async ValueTask InitializeAsync()
    {
        _otlp = await OtlpReceiver.StartAsync(TestContext.Current.CancellationToken);
        _own = await WebOfItsOwn.StartAsync(servers, "signin-lockout", environment:
        [
            .. Settings,
            ("OTEL_EXPORTER_OTLP_ENDPOINT", _otlp.Endpoint.ToString().TrimEnd('/')),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
        ]);
        _admin = await _own.Web.AdminAsync();
    }

    /// <summary>A user of tenant A with the password <c>member-password-1</c>; its email.</summary>
    public async Task<string> NewMemberAsync(bool isAdmin = false)
    {
        var email = $"member-{Guid.NewGuid():N}@tenant-a.test";
        using var created = await _admin!.PostAsJsonAsync(new Uri("/api/users", UriKind.Relative),
            new { email, name = "Member", password = "member-password-1", isAdmin, emailPreference = "None" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return email;
    }

    public async ValueTask DisposeAsync()
    {
        _admin?.Dispose();
        if (_own is not null)
        {
            await _own.DisposeAsync();
        }
        if (_otlp is not null)
        {
            await _otlp.DisposeAsync();
        }
    }
}
