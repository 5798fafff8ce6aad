using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tests.Infrastructure;
using Workers.Infrastructure;

namespace Tests.Workers;

/// <summary>Who owns and imports into a test's tenant database.</summary>
public enum ImportRole
{
    /// <summary>The cluster's superuser, as the other tests connect.</summary>
    Superuser,

    /// <summary>A login role owning the database, as provisioning makes them.</summary>
    Owner,

    /// <summary>That owner, granted <c>SET ON PARAMETER session_replication_role</c>.</summary>
    OwnerWithReplicationRole,
}

/// <summary><see cref="TestmoImporter"/> called directly: its two ways of checking references, progress, faults late in a file.</summary>
public sealed class TestmoImporterTests(TestServers servers)
{
    private const string Earlier = """
        {"cases": [{"id": 1000, "name": "Login works"}, {"id": 1001, "name": "Logout works"}],
         "runs": [{"id": 1, "name": "Nightly"}],
         "results": [{"case_id": 1000, "run_id": 1, "status": "passed"}]}
        """;

    // Names case 1000 and run 1 from the earlier import only, and a case and run of its own.
    private const string Later = """
        {"cases": [{"id": 2000, "name": "Search works"}],
         "runs": [{"id": 2, "name": "Weekly"}],
         "results": [{"case_id": 1000, "run_id": 2, "status": "failed"}, {"case_id": 2000, "run_id": 1, "status": "passed"},
                     {"case_id": 2000, "run_id": 2, "status": "blocked"}]}
        """;

    [Theory]
    [InlineData(ImportRole.Superuser, true)]
    [InlineData(ImportRole.OwnerWithReplicationRole, true)]
    [InlineData(ImportRole.Owner, false)]
    public async Task References_are_checked_set_based_exactly_when_the_role_may_set_the_replication_role_and_the_import_is_the_same_either_way(ImportRole role, bool setBased)
    {
        await using var database = await ImportDatabase.CreateAsync(servers, role);
        var project = await database.ProjectAsync("Web");
        Assert.Equal(setBased, (await database.ImportAsync(Earlier, project)).SetBasedReferenceChecks);

        // A third import renames case 1000: the upserts' update path, whose vectors must follow the new title.
        var outcome = await database.ImportAsync(Later, project);
        var renamed = await database.ImportAsync(Earlier.Replace("Login works", "Sign-in works", StringComparison.Ordinal), project);

        Assert.Equal((setBased, setBased), (outcome.SetBasedReferenceChecks, outcome.SetBasedSearchVectors));
        Assert.Equal((setBased, setBased), (renamed.SetBasedReferenceChecks, renamed.SetBasedSearchVectors));
        Assert.Equal(0, await database.StaleSearchVectorsAsync());
        Assert.Equal("Sign-in works", await database.ScalarAsync<string>("SELECT title FROM test_cases WHERE external_ref = 'testmo:1000'"));
        Assert.Equal((1, 1, 3), (outcome.Cases, outcome.Runs, outcome.Results));
        await using var db = database.Context();
        var cases = await db.TestCases.AsNoTracking().ToDictionaryAsync(c => c.ExternalRef!, c => c.Id);
        var runs = await db.TestRuns.AsNoTracking().ToDictionaryAsync(r => r.ExternalRef!, r => r.Id);
        var results = await db.TestResults.AsNoTracking().OrderBy(r => r.Id).Select(r => new { r.CaseId, r.RunId, r.Status }).ToListAsync();
        Assert.Equal(
            [
                new { CaseId = cases["testmo:1000"], RunId = runs["testmo:1"], Status = TestResultStatus.Passed },
                new { CaseId = cases["testmo:1000"], RunId = runs["testmo:2"], Status = TestResultStatus.Failed },
                new { CaseId = cases["testmo:2000"], RunId = runs["testmo:1"], Status = TestResultStatus.Passed },
                new { CaseId = cases["testmo:2000"], RunId = runs["testmo:2"], Status = TestResultStatus.Blocked },
                new { CaseId = cases["testmo:1000"], RunId = runs["testmo:1"], Status = TestResultStatus.Passed },
            ], results);
        Assert.Equal(ImportStatus.Completed, (await db.Imports.AsNoTracking().OrderBy(i => i.Id).LastAsync()).Status);
    }

    [Fact]
    public async Task A_trigger_of_its_own_on_test_results_keeps_the_results_per_row_checks_and_fires()
    {
        await using var database = await ImportDatabase.CreateAsync(servers, ImportRole.Superuser);
        await database.ExecuteAsync("""
            CREATE TABLE result_audit (result_id bigint);
            CREATE FUNCTION audit_result() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO result_audit VALUES (NEW.id); RETURN NEW; END $$;
            CREATE TRIGGER tr_audit AFTER INSERT ON test_results FOR EACH ROW EXECUTE FUNCTION audit_result();
            """);

        var outcome = await database.ImportAsync(Earlier, projectId: null);

        Assert.Equal((false, true), (outcome.SetBasedReferenceChecks, outcome.SetBasedSearchVectors));
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM result_audit"));
    }

    [Fact]
    public async Task A_search_trigger_other_than_the_one_the_import_reproduces_is_left_to_run()
    {
        await using var database = await ImportDatabase.CreateAsync(servers, ImportRole.Superuser);
        await database.ExecuteAsync("""
            CREATE OR REPLACE FUNCTION test_cases_search_vector_trigger() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN NEW.search_vector := to_tsvector('simple', 'changed'); RETURN NEW; END $$;
            """);

        var outcome = await database.ImportAsync(Earlier, projectId: null);

        Assert.Equal((true, false), (outcome.SetBasedReferenceChecks, outcome.SetBasedSearchVectors));
        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM test_cases WHERE search_vector = to_tsvector('simple', 'changed')"));
    }

    [Theory]
    [InlineData(ImportRole.Superuser)]
    [InlineData(ImportRole.Owner)]
    public async Task A_case_deleted_while_the_import_waits_to_lock_it_fails_the_import_for_a_retry_and_no_result_is_left_without_its_case(ImportRole role)
    {
        await using var database = await ImportDatabase.CreateAsync(servers, role);
        var project = await database.ProjectAsync("Web");
        await database.ImportAsync(Earlier, project);
        var importId = await database.UploadAsync(Later, project);
        await using var deleting = await database.Admin.OpenConnectionAsync();
        await using var delete = await deleting.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("DELETE FROM test_cases WHERE external_ref = 'testmo:1000'", deleting, delete))
        {
            await command.ExecuteNonQueryAsync();
        }

        var import = database.Importer().RunAsync(importId, _ => Task.CompletedTask, CancellationToken.None);
        // Set-based, the import waits to lock the case FOR KEY SHARE; per row, a foreign-key trigger waits the same way.
        await Wait.UntilAsync(async () => import.IsCompleted || await database.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database.Name}' AND wait_event_type = 'Lock'") > 0, "the import waits for the deleting transaction");
        await delete.CommitAsync();

        var fault = await Assert.ThrowsAnyAsync<Exception>(() => import);
        Assert.IsNotType<TestmoFormatException>(fault);
        await using var db = database.Context();
        Assert.Equal(ImportStatus.Pending, (await db.Imports.AsNoTracking().SingleAsync(i => i.Id == importId)).Status);
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM test_results r WHERE NOT EXISTS (SELECT 1 FROM test_cases c WHERE c.id = r.case_id)"));
        Assert.Equal(0, await db.TestResults.CountAsync());
        Assert.False(await db.TestCases.AnyAsync(c => c.ExternalRef == "testmo:2000"));
    }

    [Fact]
    public async Task Progress_is_written_to_the_row_and_reported_while_the_export_is_read()
    {
        await using var database = await ImportDatabase.CreateAsync(servers, ImportRole.Superuser);
        var export = TestmoImportTests.GenerateExport(cases: 1500, runs: 40, results: 60000);
        var importId = await database.UploadAsync(export, projectId: null);
        var reports = new List<(ImportProgress Reported, int Stored)>();

        var outcome = await database.Importer(bufferSize: 16 * 1024).RunAsync(importId, async progress =>
            reports.Add((progress, await database.ScalarAsync<int>($"SELECT progress FROM imports WHERE id = {importId}"))), CancellationToken.None);

        Assert.Equal((1500, 40, 60000), (outcome.Cases, outcome.Runs, outcome.Results));
        Assert.Equal(100, reports[^1].Reported.Percent);
        Assert.Equal((1500, 40, 60000), (reports[^1].Reported.Cases, reports[^1].Reported.Runs, reports[^1].Reported.Results));
        // Reports are written one at a time in the background; a percent reached meanwhile is left to the next one.
        var running = reports[..^1];
        // How many depends on the machine's speed (the read never waits for a write); at least one comes while reading.
        Assert.NotEmpty(running);
        Assert.All(running, r => Assert.InRange(r.Reported.Percent, 1, 99));
        // What a reader of the row sees while the import runs is what was reported.
        Assert.All(running, r => Assert.Equal(r.Reported.Percent, r.Stored));
        Assert.Equal(running.Select(r => r.Reported.Percent).Order(), running.Select(r => r.Reported.Percent));
        Assert.Equal(running.Select(r => r.Reported.Results).Order(), running.Select(r => r.Reported.Results));
    }

    [Theory]
    [InlineData("\"status\": \"retest\"", "\"status\": \"bogus\"", "results[19999].status: unknown status 'bogus'")]
    [InlineData("{\"case_id\": 1499,", "{\"case_id\": 77,", "results[19999].case_id: case 77 is neither in the file's cases")]
    public async Task A_fault_in_the_last_result_of_a_large_export_fails_it_after_progress_and_keeps_nothing_of_it(string last, string broken, string expected)
    {
        await using var database = await ImportDatabase.CreateAsync(servers, ImportRole.Superuser);
        var project = await database.ProjectAsync("Web");
        var export = TestmoImportTests.GenerateExport(cases: 1500, runs: 40, results: 20000);
        var at = export.LastIndexOf(last, StringComparison.Ordinal);
        Assert.True(at > export.Length - 200, "the replaced text is in the last result");
        var importId = await database.UploadAsync(string.Concat(export.AsSpan(0, at), broken, export.AsSpan(at + last.Length)), project);
        var percents = new List<int>();

        var fault = await Assert.ThrowsAsync<TestmoFormatException>(() =>
            database.Importer(bufferSize: 16 * 1024).RunAsync(importId, p => { percents.Add(p.Percent); return Task.CompletedTask; }, CancellationToken.None));

        Assert.Contains(expected, fault.Message, StringComparison.Ordinal);
        Assert.Contains(percents, p => p is > 0 and < 100);
        await using var db = database.Context();
        var import = await db.Imports.AsNoTracking().SingleAsync(i => i.Id == importId);
        Assert.Equal((ImportStatus.Failed, 0, 0, 0), (import.Status, import.CasesImported, import.RunsImported, import.ResultsImported));
        Assert.Null(import.UploadOid);
        Assert.Equal((0, 0, 0), (await db.TestCases.CountAsync(), await db.TestRuns.CountAsync(), await db.TestResults.CountAsync()));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM pg_largeobject_metadata"));
    }

    [Fact]
    public async Task Result_times_are_stored_as_Npgsql_stores_them_to_the_microsecond_truncated_and_the_extremes_as_infinity()
    {
        await using var database = await ImportDatabase.CreateAsync(servers, ImportRole.Superuser);
        string[] times = ["2024-05-01T10:00:00.0000019+02:00", "1999-12-31T23:59:59.9999995Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z"];
        var export = $$"""
            {"cases": [{"id": 1, "name": "a"}], "runs": [{"id": 1, "name": "r", "created_at": "{{times[0]}}"}],
             "results": [{{string.Join(", ", times.Select(t => $$"""{"case_id": 1, "run_id": 1, "status": "passed", "created_at": "{{t}}"}"""))}}]}
            """;

        await database.ImportAsync(export, projectId: null);

        await using var db = database.Context();
        Assert.Equal(
            [
                new DateTimeOffset(2024, 5, 1, 8, 0, 0, TimeSpan.Zero).AddTicks(10),
                new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero),
                DateTimeOffset.MinValue,
                DateTimeOffset.MaxValue,
            ], await db.TestResults.AsNoTracking().OrderBy(r => r.Id).Select(r => r.ExecutedAt).ToListAsync());
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 8, 0, 0, TimeSpan.Zero).AddTicks(10), (await db.TestRuns.AsNoTracking().SingleAsync()).CreatedAt);
    }
}

/// <summary>A migrated tenant database of one test, owned (and imported into) by the <see cref="ImportRole"/> asked for.</summary>
internal sealed class ImportDatabase : IAsyncDisposable
{
    private readonly PostgresServer _server;
    private readonly PostgresTestDatabase _database;
    private readonly string? _role;

    private ImportDatabase(PostgresServer server, PostgresTestDatabase database, string? role, string connectionString)
    {
        _server = server;
        _database = database;
        _role = role;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
        Admin = NpgsqlDataSource.Create(database.ConnectionString);
    }

    public string Name => _database.Name;

    public string ConnectionString { get; }

    /// <summary>Connections of the importing role.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>Superuser connections to the same database.</summary>
    public NpgsqlDataSource Admin { get; }

    public static async Task<ImportDatabase> CreateAsync(TestServers servers, ImportRole role)
    {
        var server = await servers.PostgresAsync();
        var database = await server.CreateDatabaseAsync("import");
        string? name = null;
        var connectionString = database.ConnectionString;
        if (role != ImportRole.Superuser)
        {
            name = $"owner_{database.Name}";
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
            await server.ExecuteAsync($"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'");
            await server.ExecuteAsync($"ALTER DATABASE \"{database.Name}\" OWNER TO \"{name}\"");
            if (role == ImportRole.OwnerWithReplicationRole)
            {
                await server.ExecuteAsync($"GRANT SET ON PARAMETER session_replication_role TO \"{name}\"");
            }
            connectionString = server.ConnectionStringFor(database.Name, name, password);
        }
        await using (var db = WorkerHarness.Context(connectionString))
        {
            await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync("tenant-a");
        }
        return new ImportDatabase(server, database, name, connectionString);
    }

    public TenantDbContext Context() => WorkerHarness.Context(ConnectionString);

    public TestmoImporter Importer(int bufferSize = TestmoExportReader.DefaultBufferSize) => new(DataSource, TimeProvider.System, bufferSize);

    public async Task<long> ProjectAsync(string name)
    {
        await using var db = Context();
        var project = new Project { Name = name, CreatedAt = DateTimeOffset.UtcNow };
        db.Projects.Add(project);
        await db.SaveChangesAsync();
        return project.Id;
    }

    public Task<long> UploadAsync(string export, long? projectId) => TestmoImportTests.UploadAsync(DataSource, export, "export.json", projectId);

    public async Task<ImportOutcome> ImportAsync(string export, long? projectId) =>
        await Importer().RunAsync(await UploadAsync(export, projectId), _ => Task.CompletedTask, CancellationToken.None);

    /// <summary>Cases and runs whose search vector is not what their trigger computes from their current columns.</summary>
    public Task<long> StaleSearchVectorsAsync() => ScalarAsync<long>("""
        SELECT (SELECT count(*) FROM test_cases WHERE search_vector IS DISTINCT FROM test_case_search_vector(search_language(), title, description, external_ref))
             + (SELECT count(*) FROM test_runs WHERE search_vector IS DISTINCT FROM test_run_search_vector(search_language(), name, external_ref))
        """);

    /// <summary>Statements run as the superuser.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>One value, read as the superuser (which sees every session in pg_stat_activity).</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await Admin.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await _database.DisposeAsync();
        if (_role is not null)
        {
            await _server.ExecuteAsync($"REVOKE SET ON PARAMETER session_replication_role FROM \"{_role}\"");
            await _server.ExecuteAsync($"DROP ROLE \"{_role}\"");
        }
    }
}
