using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Queue;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// Two tenants' web apps, started once per test class as real processes: tenant-a and tenant-b, each over its own
/// PostgreSQL database, both on one Valkey database, each with its own signing key and administrator. tenant-a has
/// no Elasticsearch (PostgreSQL full-text search, the default); tenant-b's <c>elasticsearchNode</c> is a stand-in
/// (<see cref="Elasticsearch"/>) with the index prefix <see cref="TenantBIndex"/>. The test reads jobs back through
/// the queue's own admin API, the way a worker deployment sees them.
/// </summary>
public sealed class TwoTenantWebs(TestServers servers) : IAsyncLifetime
{
    public const string AdminPassword = "admin-password-1";
    public const long TenantBImportMaxBytes = 64 * 1024;
    public const string TenantBIndex = "tenant-b";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private RedisTestDatabase? _valkey;
    private PostgresTestDatabase? _dbA;
    private PostgresTestDatabase? _dbB;
    private ServiceProvider? _queue;
    private ElasticsearchApiServer? _elasticsearch;

    public static TenantId A { get; } = TenantId.Parse("tenant-a");

    public static TenantId B { get; } = TenantId.Parse("tenant-b");

    public WebTenant WebA { get; private set; } = null!;

    public WebTenant WebB { get; private set; } = null!;

    public RedisTestDatabase Valkey => _valkey!;

    internal ElasticsearchApiServer Elasticsearch => _elasticsearch!;

    public IServiceProvider QueueServices => _queue!;

    public ITenantSettingsStore TenantSettings => _queue!.GetRequiredService<ITenantSettingsStore>();

    public async ValueTask InitializeAsync()
    {
        var redis = await servers.RedisAsync();
        var postgres = await servers.PostgresAsync();
        _valkey = await redis.CreateDatabaseAsync();
        _dbA = await postgres.CreateDatabaseAsync("web-a");
        _dbB = await postgres.CreateDatabaseAsync("web-b");
        _elasticsearch = await ElasticsearchApiServer.StartAsync();

        var a = new WebTenant(A, "admin@tenant-a.test", $"signing-key-of-{A}", _dbA);
        var b = new WebTenant(B, "admin@tenant-b.test", $"signing-key-of-{B}", _dbB);
        a.Host = ServiceHost.Start("Web", a.Environment(_valkey.ConnectionString));
        b.Host = ServiceHost.Start("Web", b.Environment(_valkey.ConnectionString,
            ("IMPORT_MAX_BYTES", TenantBImportMaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ($"TENANT_{B.VariableForm}_ELASTICSEARCH_NODE", _elasticsearch.Url.ToString()),
            ($"TENANT_{B.VariableForm}_ELASTICSEARCH_INDEX", TenantBIndex)));
        WebA = a;
        WebB = b;
        await Task.WhenAll(a.Host.WaitUntilHealthyAsync(StartTimeout), b.Host.WaitUntilHealthyAsync(StartTimeout));

        _queue = QueueReader(_valkey.ConnectionString, a, b);
        _ = TenantSettings;
    }

    /// <summary>The queue's client and admin API as the worker deployment has them: multi-tenant, both tenants' keys.</summary>
    internal static ServiceProvider QueueReader(string valkey, params WebTenant[] tenants)
    {
        var configs = tenants.ToDictionary(t => t.Id.Value, t => new { databaseUrl = t.Database.Url, signingKey = t.SigningKey });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = JsonSerializer.Serialize(configs),
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddTenancy();
        services.AddJobQueueClient(o => o.ConnectionString = valkey);
        return services.BuildServiceProvider();
    }

    /// <summary>Every job of <paramref name="tenant"/> on <paramref name="queue"/>, in every state.</summary>
    public async Task<IReadOnlyList<JobDetails>> JobsAsync(TenantId tenant, string queue)
    {
        var admin = _queue!.GetRequiredService<IJobQueueAdmin>();
        var jobs = new List<JobDetails>();
        using (TenantScope.Begin(tenant))
        {
            foreach (var state in Enum.GetValues<JobState>())
            {
                jobs.AddRange(await admin.GetJobsAsync(queue, state, 0, 1000));
            }
        }
        return jobs;
    }

    /// <summary>The jobs of <paramref name="tenant"/> named <paramref name="name"/> whose payload satisfies <paramref name="match"/>.</summary>
    public async Task<IReadOnlyList<(JobDetails Job, T Payload)>> JobsAsync<T>(TenantId tenant, string queue, string name, Func<T, bool> match) =>
        [.. (await JobsAsync(tenant, queue))
            .Where(j => j.Name == name)
            .Select(j => (Job: j, Payload: JsonSerializer.Deserialize<T>(j.Payload, JsonSerializerOptions.Web)!))
            .Where(x => match(x.Payload))];

    public async ValueTask DisposeAsync()
    {
        foreach (var web in new[] { WebA, WebB })
        {
            if (web?.Host is { } host)
            {
                await host.DisposeAsync();
            }
        }
        if (_queue is not null)
        {
            await _queue.DisposeAsync();
        }
        foreach (var disposable in new IAsyncDisposable?[] { _dbA, _dbB, _valkey, _elasticsearch })
        {
            if (disposable is not null)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}

/// <summary>One tenant's web app and what a test needs to talk to it.</summary>
public sealed class WebTenant(TenantId id, string adminEmail, string signingKey, PostgresTestDatabase database)
{
    public TenantId Id { get; } = id;

    public string AdminEmail { get; } = adminEmail;

    public string SigningKey { get; } = signingKey;

    public PostgresTestDatabase Database { get; } = database;

    public ServiceHost Host { get; internal set; } = null!;

    public Uri BaseAddress => Host.BaseAddress;

    public string CookieName => $".web-{Id}.session";

    internal Dictionary<string, string?> Environment(string valkey, params (string Key, string Value)[] extra)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__valkey"] = valkey,
            ["ConnectionStrings__db"] = Database.ConnectionString,
            ["INSTANCE_TENANT_ID"] = Id.Value,
            [$"TENANT_{Id.VariableForm}_SIGNING_KEY"] = SigningKey,
            ["ADMIN_EMAIL"] = AdminEmail,
            ["ADMIN_PASSWORD"] = TwoTenantWebs.AdminPassword,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in extra)
        {
            environment[key] = value;
        }
        return environment;
    }

    /// <summary>A client with no credentials that does not follow redirects.</summary>
    public HttpClient Anonymous(CookieContainer? cookies = null) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies ?? new CookieContainer(), UseCookies = true })
        {
            BaseAddress = BaseAddress,
        };

    /// <summary>
    /// A client signed in through the API's cookie sign-in. Unless <paramref name="antiforgery"/> is false it sends the
    /// antiforgery token the sign-in answered with on every request, as the site's own pages do.
    /// </summary>
    public async Task<HttpClient> SignedInAsync(string email, string password = TwoTenantWebs.AdminPassword, bool antiforgery = true)
    {
        var client = Anonymous();
        using var response = await client.PostAsJsonAsync(new Uri("/api/account/signin", UriKind.Relative), new { email, password });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"sign-in as {email}: {(int)response.StatusCode} {body}");
        if (antiforgery)
        {
            var signedIn = JsonDocument.Parse(body).RootElement;
            client.DefaultRequestHeaders.Add(signedIn.GetProperty("antiforgeryHeader").GetString()!, signedIn.GetProperty("antiforgeryToken").GetString());
        }
        return client;
    }

    public Task<HttpClient> AdminAsync(bool antiforgery = true) => SignedInAsync(AdminEmail, antiforgery: antiforgery);

    /// <summary>Creates a user who is not an administrator and returns a client signed in as them.</summary>
    public async Task<HttpClient> MemberAsync(HttpClient admin)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var email = $"member-{Guid.NewGuid():N}@{Id}.test";
        using var created = await admin.PostAsJsonAsync(new Uri("/api/users", UriKind.Relative),
            new { email, name = "Member " + email[7..11], password = "member-password-1", isAdmin = false, emailPreference = "None" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return await SignedInAsync(email, "member-password-1");
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<byte[]> LargeObjectOfImportAsync(long importId)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT lo_get(upload_oid) FROM imports WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", importId);
        return (byte[])(await command.ExecuteScalarAsync())!;
    }
}

/// <summary>Creating the things the tests act on, through the API.</summary>
internal static class WebApi
{
    public static async Task<long> CreateProjectAsync(this HttpClient client, string? name = null) =>
        await IdOfAsync(await client.PostAsJsonAsync(new Uri("/api/projects", UriKind.Relative), new { name = name ?? "Project " + Guid.NewGuid().ToString("N")[..8] }));

    public static async Task<long> CreateCaseAsync(this HttpClient client, long projectId, string? title = null) =>
        await IdOfAsync(await client.PostAsJsonAsync(new Uri($"/api/projects/{projectId}/cases", UriKind.Relative), new { title = title ?? "Case " + Guid.NewGuid().ToString("N")[..8] }));

    public static async Task<long> CreateRunAsync(this HttpClient client, long projectId) =>
        await IdOfAsync(await client.PostAsJsonAsync(new Uri($"/api/projects/{projectId}/runs", UriKind.Relative), new { name = "Run " + Guid.NewGuid().ToString("N")[..8] }));

    /// <summary>A project with one case and one run: what a result needs.</summary>
    public static async Task<(long Run, long Case)> CreateRunOfOneCaseAsync(this HttpClient client)
    {
        var project = await client.CreateProjectAsync();
        var testCase = await client.CreateCaseAsync(project);
        return (await client.CreateRunAsync(project), testCase);
    }

    public static async Task<long> CreateIntegrationAsync(this HttpClient client, long projectId) =>
        await IdOfAsync(await client.PostAsJsonAsync(new Uri($"/api/projects/{projectId}/integrations", UriKind.Relative), new { baseUrl = "https://tracker.invalid", projectKey = "QA" }));

    public static async Task<long> IdOfAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
            return JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt64();
        }
    }

    /// <summary>The field names of a 400 problem-details body.</summary>
    public static async Task<IReadOnlyList<string>> ProblemFieldsAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"Expected 400, got {(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
        return [.. errors.EnumerateObject().Select(p => p.Name)];
    }
}
