using System.Net;
using System.Net.Http.Json;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// Before an account locks, failures slow down: from the third failure in a row on (five by default), each failure
/// makes the account wait (2 s here, 30 s by default) before the next attempt is even checked.
/// </summary>
public sealed class SignInSlowDownTests(TestServers servers)
{
    private const int ThrottleSeconds = 2;

    [Fact]
    public async Task After_a_few_failures_each_further_failure_makes_the_account_wait_before_the_next_try()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "signin-slowdown", environment:
        [
            ("SIGNIN_THROTTLE_AFTER", "3"),
            ("SIGNIN_THROTTLE_SECONDS", ThrottleSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("SIGNIN_LOCKOUT_AFTER", "20"),
        ]);
        using var client = own.Web.Anonymous();

        var first = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            first.Add(await StatusAsync(client, own.Web.AdminEmail, "not-the-password"));
        }
        using var tooSoon = await SignInAsync(client, own.Web.AdminEmail, TwoTenantWebs.AdminPassword);

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], first);
        Assert.Equal(HttpStatusCode.TooManyRequests, tooSoon.StatusCode);
        Assert.InRange(tooSoon.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, ThrottleSeconds);
        Assert.Contains("Too many failed sign-ins for this account: wait", await tooSoon.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // After the wait, one more guess is checked (and fails), and the next must wait again.
        await Task.Delay(TimeSpan.FromSeconds(ThrottleSeconds + 0.5), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, own.Web.AdminEmail, "still-not-the-password"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(client, own.Web.AdminEmail, TwoTenantWebs.AdminPassword));

        // After that wait, the right password signs in.
        await Task.Delay(TimeSpan.FromSeconds(ThrottleSeconds + 0.5), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, own.Web.AdminEmail, TwoTenantWebs.AdminPassword));
    }

    private static Task<HttpResponseMessage> SignInAsync(HttpClient client, string email, string password) =>
        client.PostAsJsonAsync(new Uri("/api/account/signin", UriKind.Relative), new { email, password });

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string email, string password)
    {
        using var response = await SignInAsync(client, email, password);
        return response.StatusCode;
    }
}
