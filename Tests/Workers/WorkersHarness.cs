using System.Text.Json;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Queue;
using Tenancy;
using Tests.Infrastructure;
using Workers.Extensions;

namespace Tests.Workers;

/// <summary>One tenant of a workers test: its own migrated, marked PostgreSQL database and signing key.</summary>
public sealed class TestTenant(TenantId id, PostgresTestDatabase database) : IAsyncDisposable
{
    public TenantId Id { get; } = id;
    public PostgresTestDatabase Database { get; } = database;
    public string SigningKey { get; } = "signing-key-" + id.Value;
    public string BaseUrl => $"https://{Id.Value}.example.test";

    public static async Task<TestTenant> CreateAsync(PostgresServer postgres, string id, string? markerTenant = null)
    {
        var database = await postgres.CreateDatabaseAsync(id);
        await using (var db = Context(database.ConnectionString))
        {
            await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync(markerTenant ?? id);
        }
        return new TestTenant(TenantId.Parse(id), database);
    }

    public TenantDbContext Db() => Context(Database.ConnectionString);

    public async Task<User> AddUserAsync(string email, EmailPreference preference)
    {
        await using var db = Db();
        var user = new User { Email = email, Name = email.Split('@')[0], EmailPreference = preference, CreatedAt = DateTimeOffset.UtcNow };
        db.Users.Add(user);
        await db.SaveChangesAsync();
        return user;
    }

    public object Settings() => new { databaseUrl = Database.Url, baseUrl = BaseUrl, signingKey = SigningKey };

    private static TenantDbContext Context(string connectionString) =>
        new(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(connectionString).Options);

    public ValueTask DisposeAsync() => Database.DisposeAsync();
}

/// <summary>
/// The real Workers application (its own service registrations, all six queues) hosted in the test process against
/// the test's Valkey database and tenants, so tests can enqueue as a tenant and watch the effects.
/// </summary>
public sealed class WorkersHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WorkersHost(WebApplication app) => _app = app;

    public IServiceProvider Services => _app.Services;

    public IJobQueueClient Client => _app.Services.GetRequiredService<IJobQueueClient>();

    public IJobQueueAdmin Admin => _app.Services.GetRequiredService<IJobQueueAdmin>();

    public static async Task<WorkersHost> StartAsync(RedisTestDatabase valkey, IEnumerable<TestTenant> tenants, IDictionary<string, string?>? extra = null, string? tenantConfigFile = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:valkey"] = valkey.ConnectionString,
            ["MULTI_TENANT_MODE"] = "true",
            ["SMTP_HOST"] = "127.0.0.1",
            ["SMTP_PORT"] = "1",
            ["SMTP_SECURITY"] = "None",
        };
        if (tenantConfigFile is null)
        {
            settings["TENANT_CONFIGS"] = JsonSerializer.Serialize(tenants.ToDictionary(t => t.Id.Value, t => t.Settings()));
        }
        else
        {
            settings["TENANT_CONFIG_FILE"] = tenantConfigFile;
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddBasicServiceDefaults();
        builder.AddApplicationServices();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        await app.StartAsync();
        return new WorkersHost(app);
    }

    /// <summary>Enqueues as <paramref name="tenant"/>, the way its web app would.</summary>
    public async Task<string> EnqueueAsync<T>(TestTenant tenant, string queue, string name, T payload, EnqueueOptions? options = null)
    {
        using var scope = TenantScope.Begin(tenant.Id);
        return (await Client.EnqueueAsync(queue, name, payload, options)).Id;
    }

    /// <summary>Waits until the tenant's job reaches <paramref name="state"/>; fails with the job's details otherwise.</summary>
    public async Task<JobDetails> WaitForJobAsync(TestTenant tenant, string queue, string id, JobState state, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        JobDetails? job;
        while (true)
        {
            using (TenantScope.Begin(tenant.Id))
            {
                job = await Admin.GetJobAsync(queue, id);
            }
            if (job?.State == state)
            {
                return job;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Job {queue}/{id} of {tenant.Id} did not reach {state}: {job?.State} attempts={job?.Attempts} error={job?.Error}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
