using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hosting.Infrastructure;

/// <summary>PostgreSQL run from this machine's server binaries (a cluster in the AppHost's state directory) when containers cannot run.</summary>
public sealed class PostgresExecutableResource(string name, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, "/bin/sh", workingDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";
    internal const string Superuser = "postgres";

    private EndpointReference? _primaryEndpoint;

    public ParameterResource PasswordParameter { get; } = password;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, EndpointName);

    /// <summary>Where the server's Unix socket lives; local connections there are trusted, so provisioning never depends on a password.</summary>
    internal string SocketDirectory => Path.Combine(WorkingDirectory, "sockets");

    /// <summary>
    /// The port the server listens on behind DCP's proxy, read from its socket's name (<c>.s.PGSQL.&lt;port&gt;</c>): DCP
    /// chooses it at launch, and the app model only holds a template for it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server has not created its socket yet.</exception>
    internal int ListeningPort()
    {
        const string Prefix = ".s.PGSQL.";
        var socket = Directory.Exists(SocketDirectory)
            ? Directory.GetFiles(SocketDirectory, Prefix + "*").Select(Path.GetFileName).FirstOrDefault(f => !f!.EndsWith(".lock", StringComparison.Ordinal))
            : null;
        return socket is not null && int.TryParse(socket.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            ? port
            : throw new InvalidOperationException($"{Name} has not opened its socket in {SocketDirectory} yet.");
    }

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={Superuser};Password={PasswordParameter}");
}

/// <summary>
/// A tenant's database on the shared server, owned by a login role of its own (<see cref="Role"/>, password
/// <see cref="PasswordParameter"/>) that no other tenant's role can connect to. Created, its role's password kept equal to
/// the parameter and migrated by tenant-provisioning (run mode and Kubernetes); by the server's init script in the azd manifest.
/// </summary>
public sealed class TenantDatabaseResource(string name, string databaseName, string role, ParameterResource password, IResourceWithConnectionString server)
    : Resource(name), IResourceWithParent<IResourceWithConnectionString>, IResourceWithConnectionString
{
    public string DatabaseName { get; } = databaseName;

    public string Role { get; } = role;

    public ParameterResource PasswordParameter { get; } = password;

    public IResourceWithConnectionString Parent { get; } = server;

    /// <summary>Its role and database exist (seen by the superuser once tenant-provisioning made them); until then its health check does not log in as the role.</summary>
    internal bool IsProvisioned { get => Volatile.Read(ref _provisioned); set => Volatile.Write(ref _provisioned, value); }

    private bool _provisioned;

    private EndpointReference Endpoint => ((IResourceWithEndpoints)Parent).GetEndpoint("tcp");

    /// <summary>The Npgsql connection string of the tenant's role (<c>ConnectionStrings__db</c> of its web app).</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={Endpoint.Property(EndpointProperty.Host)};Port={Endpoint.Property(EndpointProperty.Port)};Username={Role};Password={PasswordParameter};Database={DatabaseName}");

    /// <summary><c>postgresql://role:password@host:port/database</c>, the form of <c>databaseUrl</c> in <c>TENANT_CONFIGS</c>.</summary>
    public ReferenceExpression UriExpression => ReferenceExpression.Create(
        $"postgresql://{Role}:{PasswordParameter:uri}@{Endpoint.Property(EndpointProperty.Host)}:{Endpoint.Property(EndpointProperty.Port)}/{DatabaseName}");

    /// <summary>The same without the password, for settings that are published while the password is a Secret of its own.</summary>
    public ReferenceExpression UriWithoutPasswordExpression => ReferenceExpression.Create(
        $"postgresql://{Role}@{Endpoint.Property(EndpointProperty.Host)}:{Endpoint.Property(EndpointProperty.Port)}/{DatabaseName}");
}

/// <summary>The tenant databases declared on one server, for the azd manifest's init script and the databases' states.</summary>
internal sealed class TenantDatabasesAnnotation : IResourceAnnotation
{
    public List<TenantDatabaseResource> Databases { get; } = [];
}

/// <summary>
/// <c>AddTenantPostgres</c> / <c>AddTenantDatabase</c>: one PostgreSQL server for all tenants with a database and an
/// owner role per tenant. A <c>postgres</c> container (Aspire's PostgreSQL integration) when published or when a container
/// runtime works; otherwise a local cluster in the state directory, run as the <c>postgres</c> user when the AppHost is root.
/// </summary>
public static class PostgresBuilderExtensions
{
    internal const string InitScriptDirectory = "postgres-init";

    /// <summary>The <c>postgres</c> image when containers run or the topology is published: PostgreSQL 15, as Debian 12's.</summary>
    public const string ContainerImageTag = "15-bookworm";

    public static IResourceBuilder<IResourceWithConnectionString> AddTenantPostgres(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var databases = new TenantDatabasesAnnotation();
        if (ContainerRuntime.UseContainers(builder))
        {
            // The major version of Debian 12's PostgreSQL, which run mode and the tests use: one behaviour everywhere.
            var container = builder.AddPostgres(name)
                .WithImageTag(ContainerImageTag)
                .WithDataVolume($"{name}-data")
                .WithAnnotation(databases);
            if (!Publishing.KubernetesResourceBuilderExtensions.IsActive(builder))
            {
                // The azd manifest has no provisioning Job: there, the init script creates each tenant's role and database
                // on the server's first start (database:role pairs in TENANT_DATABASES, passwords in
                // TENANT_DATABASE_PASSWORD_<DATABASE>). Run mode and Kubernetes provision with tenant-provisioning.
                container
                    .WithBindMount(Path.Combine(builder.AppHostDirectory, InitScriptDirectory), "/docker-entrypoint-initdb.d", isReadOnly: true)
                    .WithEnvironment(context =>
                    {
                        context.EnvironmentVariables["TENANT_DATABASES"] = string.Join(' ', databases.Databases.Select(d => $"{d.DatabaseName}:{d.Role}"));
                        foreach (var database in databases.Databases)
                        {
                            context.EnvironmentVariables[PasswordVariable(database)] = database.PasswordParameter;
                        }
                    });
            }
            return container;
        }

        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var directory = AppHostState.For(builder, name);
        var postgres = new PostgresExecutableResource(name, directory, password);
        var resource = builder.AddResource(postgres)
            .WithEndpoint(name: PostgresExecutableResource.EndpointName, scheme: "tcp")
            .WithIconName("DatabaseMultiple")
            .WithAnnotation(databases)
            .ExcludeFromManifest();
        if (Prerequisites.FindPostgresBinDirectory() is not { } bin)
        {
            return resource.FailsToStart(Prerequisites.Missing("PostgreSQL server binaries (initdb, postgres) were", Prerequisites.PostgresPackage));
        }

        var script = AppHostState.WriteScript(directory, "postgres.sh");
        Task<string> AdminConnectionStringAsync(CancellationToken cancellationToken) => Task.FromResult(new NpgsqlConnectionStringBuilder
        {
            Host = postgres.SocketDirectory,
            Port = postgres.ListeningPort(),
            Username = PostgresExecutableResource.Superuser,
            Database = "postgres",
            Pooling = false,
            Timeout = 3,
        }.ConnectionString);

        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheck, _ => new PostgresQueryHealthCheck(AdminConnectionStringAsync), null, null));
        // The superuser's password follows its parameter (initdb used the first one), so tenant-provisioning, which
        // connects over TCP with it, keeps working after it changes. Tenants are provisioned by tenant-provisioning.
        builder.Eventing.Subscribe<ResourceReadyEvent>(postgres, (@event, cancellationToken) =>
            SyncSuperuserPasswordAsync(@event.Services, postgres, password, AdminConnectionStringAsync, cancellationToken));
        // DCP gives container resources' states to their children, not executables': the databases follow the server here.
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            ChildStates.Follow(@event.Services, postgres, () => databases.Databases);
            return Task.CompletedTask;
        });

        return resource
            .WithEnvironment("POSTGRES_PASSWORD", password)
            .WithArgs(context =>
            {
                context.Args.Add(script);
                context.Args.Add(bin);
                context.Args.Add(Path.Combine(directory, "data"));
                context.Args.Add(postgres.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add(postgres.SocketDirectory);
            })
            .WithHealthCheck(healthCheck);
    }

    /// <summary>
    /// The tenant's database <paramref name="databaseName"/> on <paramref name="server"/>, owned by the login role
    /// <paramref name="role"/> whose password is <paramref name="password"/>. Healthy once that role can connect to it.
    /// </summary>
    public static IResourceBuilder<TenantDatabaseResource> AddTenantDatabase(this IResourceBuilder<IResourceWithConnectionString> server,
        [ResourceName] string name, string databaseName, string role, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(password);
        SqlIdentifier.Validate(databaseName);
        SqlIdentifier.Validate(role);
        if (!server.Resource.TryGetLastAnnotation<TenantDatabasesAnnotation>(out var databases))
        {
            throw new InvalidOperationException($"{server.Resource.Name} was not added with AddTenantPostgres.");
        }
        var database = new TenantDatabaseResource(name, databaseName, role, password.Resource, server.Resource);
        databases.Databases.Add(database);

        string? connectionString = null;
        var builder = server.ApplicationBuilder;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, cancellationToken) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        // Not as the tenant's role before tenant-provisioning created it (each such try is a FATAL line in the server's
        // log): until then the superuser looks for the role and the database.
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheck, _ => new PostgresQueryHealthCheck(async cancellationToken =>
        {
            if (!database.IsProvisioned)
            {
                database.IsProvisioned = await ExistsAsync(server.Resource, database, cancellationToken)
                    ? true : throw new InvalidOperationException($"{name} is not created yet (tenant-provisioning creates it).");
            }
            return connectionString ?? throw new InvalidOperationException($"{name}'s connection string is not available yet.");
        }), null, null));
        return builder.AddResource(database)
            .WithIconName("Database")
            .WithHealthCheck(healthCheck);
    }

    private static async Task<bool> ExistsAsync(IResourceWithConnectionString server, TenantDatabaseResource database, CancellationToken cancellationToken)
    {
        var superuser = new NpgsqlConnectionStringBuilder(await server.ConnectionStringExpression.GetValueAsync(cancellationToken))
        {
            Database = "postgres",
            Pooling = false,
            Timeout = 3,
        };
        await using var connection = new NpgsqlConnection(superuser.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = @role) AND EXISTS (SELECT 1 FROM pg_database WHERE datname = @database)", connection);
        command.Parameters.AddWithValue("role", database.Role);
        command.Parameters.AddWithValue("database", database.DatabaseName);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    internal static string PasswordVariable(TenantDatabaseResource database) =>
        "TENANT_DATABASE_PASSWORD_" + database.DatabaseName.ToUpperInvariant();

    private static async Task SyncSuperuserPasswordAsync(IServiceProvider services, PostgresExecutableResource server, ParameterResource password,
        Func<CancellationToken, Task<string>> adminConnectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var superuser = new NpgsqlConnection(await adminConnectionString(cancellationToken));
            await superuser.OpenAsync(cancellationToken);
            await ExecuteAsync(superuser, $"ALTER ROLE \"{PostgresExecutableResource.Superuser}\" WITH PASSWORD {await QuotedAsync(password, cancellationToken)}", cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            services.GetRequiredService<ResourceLoggerService>().GetLogger(server)
                .LogError(ex, "Could not set the superuser's password on {Server}: {Reason}", server.Name, ex.Message);
        }
    }

    private static async Task<string> QuotedAsync(ParameterResource parameter, CancellationToken cancellationToken)
    {
        var value = await parameter.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"Parameter {parameter.Name} has no value.");
        return "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>PostgreSQL names the hosting layer writes into SQL unquoted-safe: lower-case letters, digits, underscores.</summary>
internal static partial class SqlIdentifier
{
    public static void Validate(string name)
    {
        if (!Rule().IsMatch(name))
        {
            throw new ArgumentException($"Invalid PostgreSQL name '{name}': use lower-case letters, digits and underscores, starting with a letter (at most 63 characters).", nameof(name));
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial System.Text.RegularExpressions.Regex Rule();
}

/// <summary>
/// Healthy when the server answers <c>SELECT 1</c>. Unpooled: a pooled check would keep one idle server process per
/// tenant database open for the AppHost's whole run (about 25 MB each) to save a local connect every few seconds.
/// </summary>
internal sealed class PostgresQueryHealthCheck(Func<CancellationToken, Task<string>> connectionString) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var unpooled = new NpgsqlConnectionStringBuilder(await connectionString(cancellationToken)) { Pooling = false };
            await using var connection = new NpgsqlConnection(unpooled.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or FormatException or InvalidOperationException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy(ex.Message, ex);
        }
    }
}

/// <summary>Publishes a parent's state to its child resources for as long as the application runs.</summary>
internal static class ChildStates
{
    public static void Follow(IServiceProvider services, IResource parent, Func<IEnumerable<IResource>> children)
    {
        var notifications = services.GetRequiredService<ResourceNotificationService>();
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        _ = Task.Run(async () =>
        {
            try
            {
                string? last = null;
                await foreach (var update in notifications.WatchAsync(stopping))
                {
                    if (update.Resource != parent || update.Snapshot.State?.Text is not { } state || state == last)
                    {
                        continue;
                    }
                    last = state;
                    foreach (var child in children())
                    {
                        await notifications.PublishUpdateAsync(child, s => s with
                        {
                            State = update.Snapshot.State,
                            StartTimeStamp = update.Snapshot.StartTimeStamp,
                            StopTimeStamp = update.Snapshot.StopTimeStamp,
                        });
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
        }, stopping);
    }
}
