using System.Collections.Concurrent;
using Domain.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tenancy;

namespace Provisioning;

/// <summary>What provisioning did for one tenant: its changes in order, or why it failed.</summary>
public sealed record TenantProvisioningResult(TenantId Tenant, IReadOnlyList<string> Changes, string? Failure)
{
    public bool Succeeded => Failure is null;
}

/// <summary>
/// The one implementation of tenant provisioning, for run mode, the Kubernetes Job and any PostgreSQL by hand. For each
/// tenant, from its settings' database URL (role, password, database): creates the login role when missing, or gives it
/// back its login and its password when they differ; creates the database, owned by the role, when missing; closes it to
/// every other role; lets the role set <c>session_replication_role</c> (PostgreSQL 15+, for the Testmo import); then,
/// connected as the tenant's own role, migrates the database and stamps its tenant marker (<see cref="TenantDatabaseMigrator"/>).
/// Idempotent: a second run changes nothing. One tenant's failure is reported with its id and leaves the others provisioned.
/// </summary>
/// <param name="adminConnectionString">A role that may create roles and databases (the server's superuser, or a managed
/// service's administrator with CREATEROLE and CREATEDB).</param>
public sealed partial class TenantProvisioner(string adminConnectionString, ILoggerFactory loggers, TimeProvider time)
{
    private readonly ILogger _logger = loggers.CreateLogger<TenantProvisioner>();

    /// <summary>Tenants migrated at once (creating roles and databases is serialised on the one administrator connection).</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>How long to wait for the server to accept the administrator's connection (a server still starting).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public async Task<IReadOnlyList<TenantProvisioningResult>> ProvisionAsync(IReadOnlyDictionary<TenantId, TenantSettings> tenants, CancellationToken cancellationToken)
    {
        await using var admin = await ConnectAsync(cancellationToken);
        var server = await ServerState.ReadAsync(admin, cancellationToken);
        using var adminGate = new SemaphoreSlim(1);
        var results = new ConcurrentBag<TenantProvisioningResult>();
        await Parallel.ForEachAsync(tenants.OrderBy(t => t.Key.Value, StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (tenant, ct) => results.Add(await ProvisionAsync(tenant.Key, tenant.Value, admin, adminGate, server, ct)));
        return [.. results.OrderBy(r => r.Tenant.Value, StringComparer.Ordinal)];
    }

    private async Task<TenantProvisioningResult> ProvisionAsync(TenantId tenant, TenantSettings settings, NpgsqlConnection admin, SemaphoreSlim adminGate,
        ServerState server, CancellationToken cancellationToken)
    {
        var changes = new List<string>();
        try
        {
            var target = new NpgsqlConnectionStringBuilder(settings.ConnectionString) { Pooling = false };
            var (role, database, password) = (target.Username, target.Database, target.Password);
            if (string.IsNullOrEmpty(role) || string.IsNullOrEmpty(database) || string.IsNullOrEmpty(password))
            {
                throw new ProvisioningException("its databaseUrl must name a user, a password (or databasePassword) and a database.");
            }

            await adminGate.WaitAsync(cancellationToken);
            try
            {
                await EnsureRoleAndDatabaseAsync(admin, server, role, database, password, changes, cancellationToken);
            }
            finally
            {
                adminGate.Release();
            }

            if (!await CanConnectAsync(target.ConnectionString, cancellationToken))
            {
                // The role exists with another password (a rotated secret, or a role made by hand): the secret wins.
                await adminGate.WaitAsync(cancellationToken);
                try
                {
                    await ExecuteAsync(admin, $"ALTER ROLE {Quote(role)} WITH LOGIN PASSWORD {Literal(password)}", cancellationToken);
                }
                finally
                {
                    adminGate.Release();
                }
                changes.Add($"set the password of role {role}");
            }

            await using var db = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(target.ConnectionString).Options);
            var migration = await new TenantDatabaseMigrator(db, time, loggers.CreateLogger<TenantDatabaseMigrator>())
                .MigrateAsync(tenant.Value, settings.SearchLanguage, cancellationToken);
            if (migration.Applied.Count > 0)
            {
                changes.Add($"applied {migration.Applied.Count} migration(s): {string.Join(", ", migration.Applied)}");
            }
            if (migration.Stamped)
            {
                changes.Add($"marked the database as tenant {tenant}'s");
            }
            if (migration.SearchLanguageChanged)
            {
                changes.Add($"set the search language to {settings.SearchLanguage}");
            }
            Log.Provisioned(_logger, tenant.Value, changes.Count == 0 ? "unchanged" : string.Join("; ", changes));
            return new TenantProvisioningResult(tenant, changes, null);
        }
        catch (Exception e) when (e is NpgsqlException or ProvisioningException or TenantDatabaseMismatchException or InvalidOperationException or FormatException or TimeoutException)
        {
            Log.Failed(_logger, e, tenant.Value, e.Message);
            return new TenantProvisioningResult(tenant, changes, e.Message);
        }
    }

    private async Task EnsureRoleAndDatabaseAsync(NpgsqlConnection admin, ServerState server, string role, string database, string password,
        List<string> changes, CancellationToken cancellationToken)
    {
        if (!server.Roles.TryGetValue(role, out var canLogin))
        {
            await ExecuteAsync(admin, $"CREATE ROLE {Quote(role)} WITH LOGIN PASSWORD {Literal(password)}", cancellationToken);
            server.Roles[role] = true;
            changes.Add($"created role {role}");
        }
        else if (!canLogin)
        {
            await ExecuteAsync(admin, $"ALTER ROLE {Quote(role)} WITH LOGIN", cancellationToken);
            server.Roles[role] = true;
            changes.Add($"gave role {role} its login back");
        }

        if (!server.Databases.TryGetValue(database, out var existing))
        {
            // A managed service's administrator is no superuser: it must be a member of the role to give it a database.
            if (!server.IsSuperuser)
            {
                await ExecuteAsync(admin, $"GRANT {Quote(role)} TO CURRENT_USER", cancellationToken);
            }
            await ExecuteAsync(admin, $"CREATE DATABASE {Quote(database)} OWNER {Quote(role)}", cancellationToken);
            existing = new DatabaseState(role, PublicCanConnect: true);
            server.Databases[database] = existing;
            changes.Add($"created database {database}");
        }
        else if (existing.Owner != role)
        {
            throw new ProvisioningException($"database {database} exists but belongs to role {existing.Owner}, not {role}; refusing to hand it to this tenant.");
        }

        if (existing.PublicCanConnect)
        {
            // One tenant's role must not reach another tenant's database.
            await ExecuteAsync(admin, $"REVOKE CONNECT, TEMPORARY ON DATABASE {Quote(database)} FROM PUBLIC", cancellationToken);
            server.Databases[database] = existing with { PublicCanConnect = false };
            changes.Add($"closed database {database} to other roles");
        }

        // The Testmo import checks its references set-based when the role may switch off per-row triggers for its own
        // sessions (TestmoImporter); without the grant it imports the per-row way. PostgreSQL 15 and later.
        if (server.Version >= 15 && !await ScalarAsync<bool>(admin, "SELECT has_parameter_privilege(@role, 'session_replication_role', 'SET')", cancellationToken, ("role", role)))
        {
            try
            {
                await ExecuteAsync(admin, $"GRANT SET ON PARAMETER session_replication_role TO {Quote(role)}", cancellationToken);
                changes.Add($"let role {role} set session_replication_role");
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                Log.NoReplicationRoleGrant(_logger, role, e.MessageText);
            }
        }
    }

    private async Task<NpgsqlConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Pooling = false };
        if (string.IsNullOrEmpty(builder.Database))
        {
            builder.Database = "postgres";
        }
        var deadline = time.GetUtcNow() + ConnectTimeout;
        while (true)
        {
            var connection = new NpgsqlConnection(builder.ConnectionString);
            try
            {
                await connection.OpenAsync(cancellationToken);
                return connection;
            }
            catch (NpgsqlException e) when (time.GetUtcNow() < deadline && e is not PostgresException { SqlState: PostgresErrorCodes.InvalidPassword })
            {
                // The server is still starting (a Job and its database applied together): try again shortly.
                await connection.DisposeAsync();
                Log.WaitingForServer(_logger, builder.Host ?? "?", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), time, cancellationToken);
            }
        }
    }

    private static async Task<bool> CanConnectAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            return false;
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>An identifier, quoted: role and database names come from operators' settings.</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A string literal (DDL takes no parameters).</summary>
    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private sealed record DatabaseState(string Owner, bool PublicCanConnect);

    /// <summary>Roles and databases as found once at the start, kept up to date by what this run creates.</summary>
    private sealed class ServerState
    {
        public int Version { get; private init; }

        public bool IsSuperuser { get; private init; }

        public Dictionary<string, bool> Roles { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, DatabaseState> Databases { get; } = new(StringComparer.Ordinal);

        public static async Task<ServerState> ReadAsync(NpgsqlConnection admin, CancellationToken cancellationToken)
        {
            var state = new ServerState
            {
                Version = admin.PostgreSqlVersion.Major,
                IsSuperuser = await ScalarAsync<bool>(admin, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", cancellationToken),
            };
            await using (var command = new NpgsqlCommand("SELECT rolname, rolcanlogin FROM pg_roles", admin))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    state.Roles[reader.GetString(0)] = reader.GetBoolean(1);
                }
            }
            // PUBLIC (grantee 0) may connect unless revoked; a database without an ACL has the default, which lets it.
            const string Databases = """
                SELECT d.datname, pg_get_userbyid(d.datdba),
                       EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                               WHERE a.grantee = 0 AND a.privilege_type IN ('CONNECT', 'TEMPORARY'))
                FROM pg_database d
                """;
            await using (var command = new NpgsqlCommand(Databases, admin))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    state.Databases[reader.GetString(0)] = new DatabaseState(reader.GetString(1), reader.GetBoolean(2));
                }
            }
            return state;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Tenant {TenantId}: {Changes}")]
        public static partial void Provisioned(ILogger logger, string tenantId, string changes);

        [LoggerMessage(2, LogLevel.Error, "Tenant {TenantId} could not be provisioned: {Reason}")]
        public static partial void Failed(ILogger logger, Exception exception, string tenantId, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Role {Role} may not set session_replication_role ({Reason}); its Testmo imports check references row by row")]
        public static partial void NoReplicationRoleGrant(ILogger logger, string role, string reason);

        [LoggerMessage(4, LogLevel.Information, "Waiting for PostgreSQL at {Host}: {Reason}")]
        public static partial void WaitingForServer(ILogger logger, string host, string reason);
    }
}

/// <summary>A tenant that cannot be provisioned as its settings say; the message is for the operator.</summary>
public sealed class ProvisioningException(string message) : Exception(message);
