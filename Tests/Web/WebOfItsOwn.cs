using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// Tenant A's web app over a database and a Valkey of its own (one the test may kill and restart), started and
/// healthy: for tests that take Valkey away or read the app's telemetry. Disposing stops the app, then Valkey, then
/// drops the database.
/// </summary>
internal sealed class WebOfItsOwn : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private PostgresTestDatabase? _database;

    private WebOfItsOwn()
    {
    }

    public KillableRedis Valkey { get; private set; } = null!;

    public WebTenant Web { get; private set; } = null!;

    /// <param name="name">Names the database and the app's signing key.</param>
    /// <param name="fsync">Valkey's <c>appendfsync</c>: <c>everysec</c> or <c>always</c>.</param>
    /// <param name="environment">More settings of the web app.</param>
    public static async Task<WebOfItsOwn> StartAsync(TestServers servers, string name, string fsync = "everysec", params (string Key, string Value)[] environment)
    {
        var own = new WebOfItsOwn();
        try
        {
            own._database = await (await servers.PostgresAsync()).CreateDatabaseAsync(name);
            own.Valkey = await KillableRedis.StartAsync(fsync);
            own.Web = new WebTenant(TwoTenantWebs.A, "admin@tenant-a.test", $"signing-key-{name}", own._database);
            own.Web.Host = ServiceHost.Start("Web", own.Web.Environment(own.Valkey.ConnectionString, environment));
            await own.Web.Host.WaitUntilHealthyAsync(StartTimeout);
            return own;
        }
        catch
        {
            await own.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Web?.Host is { } host)
        {
            await host.DisposeAsync();
        }
        if (Valkey is { } valkey)
        {
            await valkey.DisposeAsync();
        }
        if (_database is { } database)
        {
            await database.DisposeAsync();
        }
    }
}
