using System.Net;
using System.Net.Http.Json;
using Npgsql;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// The web app's data-protection keys (they sign its session cookies and antiforgery tokens) live in the tenant
/// database, so its replicas share them. With <c>DATA_PROTECTION_KEY</c> they are stored encrypted: a copy of the
/// database alone cannot forge sessions, and the framework has nothing to warn about at start.
/// </summary>
public sealed class KeyRingTests(TestServers servers)
{
    private const string Secret = "a-data-protection-secret-of-48-characters-000000";

    [Fact]
    public async Task With_DATA_PROTECTION_KEY_the_keys_are_stored_encrypted_and_a_restarted_app_still_reads_its_sessions()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        (string, string)[] environment = [("DATA_PROTECTION_KEY", Secret)];
        await using var own = await WebOfItsOwn.StartAsync(servers, "keyring", environment: environment);
        var web = own.Web;
        var cookies = new CookieContainer();
        using (var client = web.Anonymous(cookies))
        {
            using var signIn = await client.PostAsJsonAsync(new Uri("/api/account/signin", UriKind.Relative), new { email = web.AdminEmail, password = TwoTenantWebs.AdminPassword }, cancellationToken);
            Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        }

        var keys = await KeysAsync(web);
        Assert.NotEmpty(keys);
        Assert.All(keys, xml =>
        {
            Assert.Contains("<aesGcmEncryptedKey", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
        });
        Assert.DoesNotContain("No XML encryptor configured", web.Host.Output, StringComparison.Ordinal);

        // Another process over the same database and secret (a restart, another replica) decrypts the key and reads the session.
        await web.Host.DisposeAsync();
        web.Host = ServiceHost.Start("Web", web.Environment(own.Valkey.ConnectionString, environment));
        await web.Host.WaitUntilHealthyAsync(TimeSpan.FromSeconds(90));
        using var again = web.Anonymous(cookies);
        using var projects = await again.GetAsync(new Uri("/api/projects", UriKind.Relative), cancellationToken);
        Assert.Equal(HttpStatusCode.OK, projects.StatusCode);
        Assert.Equal(keys, await KeysAsync(web));
    }

    private static async Task<List<string>> KeysAsync(WebTenant web)
    {
        await using var connection = new NpgsqlConnection(web.Database.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT xml FROM data_protection_keys ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var keys = new List<string>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            keys.Add(reader.GetString(0));
        }
        return keys;
    }
}
