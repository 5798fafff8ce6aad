using Domain.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Provisioning;
using Tenancy;
using Tests.Infrastructure;

namespace Tests.Provisioning;

/// <summary>
/// tenant-provisioning against a real PostgreSQL: roles and databases created when missing, passwords kept equal to
/// the secrets, databases migrated; idempotent; one tenant's failure named and the others provisioned. Each test uses
/// tenant ids of its own, so the roles it creates on the test run's server are new to it.
/// </summary>
public sealed class ProvisioningTests(TestServers servers)
{
    private sealed class Fleet(PostgresServer postgres)
    {
        private readonly string _prefix = "p" + Guid.NewGuid().ToString("N")[..10];

        public PostgresServer Postgres { get; } = postgres;

        public TenantId Id(string name) => TenantId.Parse($"{_prefix}-{name}");

        public string Role(string name) => $"{_prefix}_{name}";

        public string Password(string name) => $"secret-{name}-{_prefix}";

        public TenantSettings Settings(string name, string? password = null) =>
            new(Postgres.UrlFor(Role(name), Role(name), password ?? Password(name)), SigningKey: "k");

        public Dictionary<TenantId, TenantSettings> Tenants(params string[] names) => names.ToDictionary(Id, n => Settings(n));

        public string ConnectionString(string name, string? password = null) =>
            new NpgsqlConnectionStringBuilder(Postgres.ConnectionStringFor(Role(name), Role(name), password ?? Password(name))) { Pooling = false }.ConnectionString;
    }

    private async Task<Fleet> FleetAsync() => new(await servers.PostgresAsync());

    private static Task<IReadOnlyList<TenantProvisioningResult>> ProvisionAsync(Fleet fleet, Dictionary<TenantId, TenantSettings> tenants) =>
        new TenantProvisioner(fleet.Postgres.AdminConnectionString, NullLoggerFactory.Instance, TimeProvider.System)
            .ProvisionAsync(tenants, TestContext.Current.CancellationToken);

    private static async Task<string?> MarkerAsync(string connectionString)
    {
        await using var db = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(connectionString).Options);
        Assert.Empty(await db.Database.GetPendingMigrationsAsync(TestContext.Current.CancellationToken));
        return (await db.TenantMarker.SingleAsync(TestContext.Current.CancellationToken)).TenantId;
    }

    private static async Task<string> StoredPasswordAsync(Fleet fleet, string name)
    {
        await using var admin = new NpgsqlConnection(fleet.Postgres.AdminConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT rolpassword FROM pg_authid WHERE rolname = @r", admin);
        command.Parameters.AddWithValue("r", fleet.Role(name));
        return (string)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Three_new_tenants_get_a_role_a_database_closed_to_the_others_and_the_current_schema()
    {
        var fleet = await FleetAsync();

        var results = await ProvisionAsync(fleet, fleet.Tenants("a", "b", "c"));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Failure));
        foreach (var name in new[] { "a", "b", "c" })
        {
            var result = results.Single(r => r.Tenant == fleet.Id(name));
            Assert.Contains($"created role {fleet.Role(name)}", result.Changes);
            Assert.Contains($"created database {fleet.Role(name)}", result.Changes);
            Assert.Contains(result.Changes, c => c.StartsWith("applied ", StringComparison.Ordinal));
            Assert.Equal(fleet.Id(name).Value, await MarkerAsync(fleet.ConnectionString(name)));
        }
        // Tenant a's role cannot even connect to tenant b's database.
        var foreign = new NpgsqlConnectionStringBuilder(fleet.ConnectionString("a")) { Database = fleet.Role("b") };
        await using var intruder = new NpgsqlConnection(foreign.ConnectionString);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => intruder.OpenAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }

    [Fact]
    public async Task Provisioning_again_changes_nothing()
    {
        var fleet = await FleetAsync();
        var tenants = fleet.Tenants("a", "b", "c");
        await ProvisionAsync(fleet, tenants);
        var password = await StoredPasswordAsync(fleet, "a");

        var again = await ProvisionAsync(fleet, tenants);

        Assert.All(again, r => Assert.True(r.Succeeded && r.Changes.Count == 0, $"{r.Tenant}: {string.Join("; ", r.Changes)} {r.Failure}"));
        // Not even a password rewritten with a new salt.
        Assert.Equal(password, await StoredPasswordAsync(fleet, "a"));
    }

    [Fact]
    public async Task A_tenant_added_later_is_the_only_one_created()
    {
        var fleet = await FleetAsync();
        await ProvisionAsync(fleet, fleet.Tenants("a", "b", "c"));

        var results = await ProvisionAsync(fleet, fleet.Tenants("a", "b", "c", "d"));

        Assert.Equal([fleet.Id("d")], results.Where(r => r.Changes.Count > 0).Select(r => r.Tenant));
        Assert.Contains($"created database {fleet.Role("d")}", results.Single(r => r.Tenant == fleet.Id("d")).Changes);
        Assert.Equal(fleet.Id("d").Value, await MarkerAsync(fleet.ConnectionString("d")));
    }

    [Fact]
    public async Task A_role_that_exists_with_another_password_gets_the_password_of_its_secret()
    {
        var fleet = await FleetAsync();
        await fleet.Postgres.ExecuteAsync($"CREATE ROLE \"{fleet.Role("a")}\" LOGIN PASSWORD 'made-by-hand'");

        var result = Assert.Single(await ProvisionAsync(fleet, fleet.Tenants("a")));

        Assert.True(result.Succeeded, result.Failure);
        Assert.Contains($"set the password of role {fleet.Role("a")}", result.Changes);
        Assert.Equal(fleet.Id("a").Value, await MarkerAsync(fleet.ConnectionString("a")));
        await using var old = new NpgsqlConnection(fleet.ConnectionString("a", "made-by-hand"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, (await Assert.ThrowsAsync<PostgresException>(() => old.OpenAsync())).SqlState);
    }

    [Fact]
    public async Task A_tenant_that_cannot_be_provisioned_is_named_and_the_others_are_provisioned()
    {
        var fleet = await FleetAsync();
        // b's database exists already, owned by someone else: handing it to b could hand b another's data.
        await fleet.Postgres.ExecuteAsync($"CREATE DATABASE \"{fleet.Role("b")}\"");

        var results = await ProvisionAsync(fleet, fleet.Tenants("a", "b", "c"));

        var failed = Assert.Single(results, r => !r.Succeeded);
        Assert.Equal(fleet.Id("b"), failed.Tenant);
        Assert.Contains($"database {fleet.Role("b")} exists but belongs to role postgres", failed.Failure, StringComparison.Ordinal);
        Assert.Equal(fleet.Id("a").Value, await MarkerAsync(fleet.ConnectionString("a")));
        Assert.Equal(fleet.Id("c").Value, await MarkerAsync(fleet.ConnectionString("c")));
    }

    [Fact]
    public async Task The_command_exits_1_naming_the_failed_tenant_after_provisioning_the_others()
    {
        var fleet = await FleetAsync();
        await fleet.Postgres.ExecuteAsync($"CREATE DATABASE \"{fleet.Role("b")}\"");
        var configs = System.Text.Json.JsonSerializer.Serialize(new[] { "a", "b" }.ToDictionary(n => fleet.Id(n).Value, n => new { databaseUrl = fleet.Settings(n).DatabaseUrl }));

        await using var command = ServiceHost.Start("Provisioning", new Dictionary<string, string?>
        {
            ["ConnectionStrings__postgres"] = fleet.Postgres.AdminConnectionString,
            ["MULTI_TENANT_MODE"] = "true",
            ["TENANT_CONFIGS"] = configs,
        });

        Assert.True(await command.WaitForExitAsync(TimeSpan.FromMinutes(2)), command.Output);
        Assert.Equal(1, command.ExitCode);
        Assert.Contains($"Provisioned 1 of 2 tenants (1 changed, 0 unchanged); failed: {fleet.Id("b")}: database {fleet.Role("b")} exists", command.Output, StringComparison.Ordinal);
        Assert.Equal(fleet.Id("a").Value, await MarkerAsync(fleet.ConnectionString("a")));
    }

    [Fact]
    public async Task Wait_returns_once_the_tenants_role_can_connect_to_its_database()
    {
        var fleet = await FleetAsync();
        var wait = new DatabaseWait(fleet.ConnectionString("a"), NullLogger<DatabaseWait>.Instance, TimeProvider.System) { Interval = TimeSpan.FromMilliseconds(100) }
            .WaitAsync(TestContext.Current.CancellationToken);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.False(wait.IsCompleted, "wait returned before the database existed");

        await ProvisionAsync(fleet, fleet.Tenants("a"));

        await wait.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }
}
