using System.Globalization;
using Npgsql;

namespace Hosting.Orchestration;

/// <summary>Valkey from a container when a runtime works, else <c>valkey-server</c> or <c>redis-server</c> on PATH.</summary>
internal sealed class ValkeyRun(ValkeyResource valkey, RunContext context) : ContainerRun(valkey, context)
{
    public override string Type => "Valkey";

    protected override async Task StartAsync(CancellationToken cancellationToken)
    {
        var data = Path.Combine(Context.StateDirectory, valkey.Name);
        Directory.CreateDirectory(data);
        string[] settings = ["--requirepass", valkey.Password.Value, "--appendonly", "yes"];
        if (await Context.ContainerRuntimeWorks)
        {
            StartContainer([], ["valkey-server", .. settings], [(data, "/data")]);
            return;
        }
        var server = Prerequisites.Find("valkey-server") ?? Prerequisites.Find("redis-server")
            ?? throw Prerequisites.Missing("Neither valkey-server nor redis-server was found on PATH (and no container runtime works)", "apt-get install -y redis-server");
        Launch(new ProcessLaunch(server,
            ["--port", valkey.PrimaryEndpoint.Endpoint.AllocatedPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", data, .. settings],
            new Dictionary<string, string?>(), data));
    }

    protected override Task<bool> IsHealthyAsync(CancellationToken cancellationToken) =>
        Probes.ValkeyPingAsync(valkey.PrimaryEndpoint.Endpoint.AllocatedPort, valkey.Password.Value, cancellationToken);
}

/// <summary>
/// PostgreSQL from a container when a runtime works, else a local cluster in the state directory, owned by and
/// run as the <c>postgres</c> user when the AppHost is root (PostgreSQL refuses to run as root). Healthy once it
/// answers a query and every database and owner role exists.
/// </summary>
internal sealed class PostgresRun(PostgresServerResource postgres, RunContext context) : ContainerRun(postgres, context)
{
    private const string SystemUser = "postgres";
    private string? _binDirectory;
    private string? _dataDirectory;
    private string? _runAs;
    private bool _provisioned;

    public override string Type => "PostgreSQL";

    protected override async Task StartAsync(CancellationToken cancellationToken)
    {
        var root = Path.Combine(Context.StateDirectory, postgres.Name);
        Directory.CreateDirectory(root);
        if (await Context.ContainerRuntimeWorks)
        {
            StartContainer(new() { ["POSTGRES_PASSWORD"] = postgres.Password.Value }, [], [(Path.Combine(root, "container-data"), "/var/lib/postgresql/data")]);
            return;
        }

        _binDirectory = Prerequisites.PostgresBinDirectory("(and no container runtime works)");
        _dataDirectory = Path.Combine(root, "data");
        _runAs = Environment.UserName == "root" ? SystemUser : null;
        if (_runAs is not null)
        {
            await ManagedProcess.RunToCompletionAsync(ProcessLaunch.Command("chown", "-R", $"{SystemUser}:{SystemUser}", root), TimeSpan.FromMinutes(1));
        }
        if (!File.Exists(Path.Combine(_dataDirectory, "PG_VERSION")))
        {
            await InitializeClusterAsync(root);
        }
        else
        {
            await StopLeftoverServerAsync();
        }
        Launch(new ProcessLaunch(Path.Combine(_binDirectory, "postgres"),
        [
            "-D", _dataDirectory,
            "-p", postgres.PrimaryEndpoint.Endpoint.AllocatedPort.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=400",
        ], new Dictionary<string, string?>(), root, _runAs));
    }

    protected override async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString("postgres"));
            await connection.OpenAsync(cancellationToken);
            await using (var probe = new NpgsqlCommand("SELECT 1", connection))
            {
                await probe.ExecuteScalarAsync(cancellationToken);
            }
            if (!_provisioned)
            {
                await ProvisionAsync(connection, cancellationToken);
                _provisioned = true;
            }
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    public override async Task StopAsync()
    {
        MarkStopping();
        if (_dataDirectory is not null && Processes.Any(p => !p.HasExited))
        {
            try
            {
                // A fast shutdown ends the backends and releases shared memory; killing would leave it behind.
                await ManagedProcess.RunToCompletionAsync(
                    new ProcessLaunch(Path.Combine(_binDirectory!, "pg_ctl"), ["stop", "-D", _dataDirectory, "-m", "fast", "-w", "-t", "20"], new Dictionary<string, string?>(), null, _runAs),
                    TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                Context.Output.Write("apphost", $"{postgres.Name}: pg_ctl stop failed ({ex.Message}); stopping the process instead");
            }
        }
        await base.StopAsync();
    }

    private string AdminConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = postgres.PrimaryEndpoint.Endpoint.AllocatedPort,
        Username = PostgresServerResource.Superuser,
        Password = postgres.Password.Value,
        Database = database,
        Pooling = false,
        Timeout = 3,
    }.ConnectionString;

    /// <summary>Creates each database and its owner role if missing; keeps role passwords equal to their parameters.</summary>
    private async Task ProvisionAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        foreach (var database in postgres.Databases)
        {
            if (database.OwnerRole is { } role && database.OwnerPassword is { } password)
            {
                var exists = await ScalarAsync<bool>(connection, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = @name)", role, cancellationToken);
                // Identifiers are validated by AddDatabase/WithOwner; the password is letters and digits or a configured value, so quote it.
                var quotedPassword = "'" + password.Value.Replace("'", "''", StringComparison.Ordinal) + "'";
                await ExecuteAsync(connection, exists
                    ? $"ALTER ROLE \"{role}\" WITH LOGIN PASSWORD {quotedPassword}"
                    : $"CREATE ROLE \"{role}\" WITH LOGIN PASSWORD {quotedPassword}", cancellationToken);
            }
            if (!await ScalarAsync<bool>(connection, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @name)", database.DatabaseName, cancellationToken))
            {
                var owner = database.OwnerRole is null ? string.Empty : $" OWNER \"{database.OwnerRole}\"";
                await ExecuteAsync(connection, $"CREATE DATABASE \"{database.DatabaseName}\"{owner}", cancellationToken);
            }
            if (database.OwnerRole is not null)
            {
                // One tenant's role must not reach another tenant's database.
                await ExecuteAsync(connection, $"REVOKE CONNECT, TEMPORARY ON DATABASE \"{database.DatabaseName}\" FROM PUBLIC", cancellationToken);
            }
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("name", name);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task InitializeClusterAsync(string root)
    {
        var passwordFile = Path.Combine(root, "pwfile");
        await File.WriteAllTextAsync(passwordFile, postgres.Password.Value + "\n");
        try
        {
            if (_runAs is not null)
            {
                await ManagedProcess.RunToCompletionAsync(ProcessLaunch.Command("chown", $"{SystemUser}:{SystemUser}", passwordFile), TimeSpan.FromSeconds(10));
            }
            Context.Output.Write(postgres.Name, $"initdb into {_dataDirectory}");
            await ManagedProcess.RunToCompletionAsync(new ProcessLaunch(Path.Combine(_binDirectory!, "initdb"),
            [
                "-D", _dataDirectory!, "-U", PostgresServerResource.Superuser, "-E", "UTF8", "--locale=C.UTF-8",
                "--auth-local=trust", "--auth-host=scram-sha-256", $"--pwfile={passwordFile}",
            ], new Dictionary<string, string?>(), root, _runAs), TimeSpan.FromMinutes(3));
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>A server left running by an AppHost that was killed holds the data directory: stop it first.</summary>
    private async Task StopLeftoverServerAsync()
    {
        if (!File.Exists(Path.Combine(_dataDirectory!, "postmaster.pid")))
        {
            return;
        }
        try
        {
            await ManagedProcess.RunToCompletionAsync(
                new ProcessLaunch(Path.Combine(_binDirectory!, "pg_ctl"), ["stop", "-D", _dataDirectory!, "-m", "fast", "-w", "-t", "20"], new Dictionary<string, string?>(), null, _runAs),
                TimeSpan.FromSeconds(30));
            Context.Output.Write("apphost", $"{postgres.Name}: stopped a server left behind by an earlier run");
        }
        catch (InvalidOperationException)
        {
            // No server running: the pid file is stale and PostgreSQL removes it itself.
        }
    }
}

/// <summary>Development mail: aiosmtpd (python3-aiosmtpd) writing every message to a maildir in the state directory.</summary>
internal sealed class SmtpRun(SmtpServerResource smtp, RunContext context) : ResourceRun(smtp, context)
{
    private const string Python = "/usr/bin/python3";

    public override string Type => "SMTP";

    protected override async Task StartAsync(CancellationToken cancellationToken)
    {
        var install = "apt-get install -y python3-aiosmtpd";
        if (!File.Exists(Python))
        {
            throw Prerequisites.Missing($"{Python} was not found", install);
        }
        try
        {
            await ManagedProcess.RunToCompletionAsync(ProcessLaunch.Command(Python, "-c", "import aiosmtpd"), TimeSpan.FromSeconds(20));
        }
        catch (InvalidOperationException)
        {
            throw Prerequisites.Missing("The Python module aiosmtpd was not found", install);
        }
        var root = Path.Combine(Context.StateDirectory, smtp.Name);
        Directory.CreateDirectory(root);
        var script = Path.Combine(root, "smtp_server.py");
        await using (var source = typeof(SmtpRun).Assembly.GetManifestResourceStream("Hosting.Resources.smtp_server.py")!)
        await using (var target = File.Create(script))
        {
            await source.CopyToAsync(target, cancellationToken);
        }
        Launch(new ProcessLaunch(Python, [script, smtp.SmtpEndpoint.Endpoint.AllocatedPort.ToString(CultureInfo.InvariantCulture), Path.Combine(root, "maildir")],
            new Dictionary<string, string?>(), root));
    }

    protected override Task<bool> IsHealthyAsync(CancellationToken cancellationToken) =>
        Probes.SmtpGreetingAsync(smtp.SmtpEndpoint.Endpoint.AllocatedPort, cancellationToken);
}
