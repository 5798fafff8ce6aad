using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Domain.Infrastructure;
using Domain.Model;
using Npgsql;
using NpgsqlTypes;

namespace Workers.Infrastructure;

/// <summary>How far an import has got: bytes of the upload read and elements found so far.</summary>
public sealed record ImportProgress(long ImportId, int Percent, long BytesRead, long TotalBytes, long Cases, long Runs, long Results);

/// <summary>The import ended without error; the counts are the rows written (or updated, for re-imported cases and runs).</summary>
public sealed record ImportOutcome(long ProjectId, int Cases, int Runs, int Results, bool AlreadyCompleted = false)
{
    /// <summary>Whether the results' references were made sure of set-based instead of by per-row foreign-key triggers.</summary>
    public bool SetBasedReferenceChecks { get; init; }

    /// <summary>Whether the cases' and runs' search vectors were computed by their inserts instead of per-row triggers.</summary>
    public bool SetBasedSearchVectors { get; init; }

    /// <summary>Wall-clock time of each phase of the import, in the order they ran (for benchmarks and logs).</summary>
    public IReadOnlyList<ImportPhase> Phases { get; init; } = [];
}

/// <summary>Wall-clock time one phase of an import took; phases that overlap others say so in their name.</summary>
public readonly record struct ImportPhase(string Name, TimeSpan Elapsed);

/// <summary>
/// Imports the stored upload of one <c>imports</c> row (a Testmo export, see <see cref="TestmoExportReader"/>)
/// into the tenant database.
/// <list type="bullet">
/// <item>Everything is written in ONE transaction: the elements stream into temporary staging tables with binary
/// COPY, are checked there (duplicate ids, results naming a case or run the file and the project do not have),
/// then go into <c>test_cases</c>/<c>test_runs</c>/<c>test_results</c> set-based. A fault anywhere rolls all of
/// it back: no partial import.</item>
/// <item>Testmo ids become <c>external_ref = 'testmo:&lt;id&gt;'</c> in the import's project (a new project named
/// after the file when the import has none). A case or run already imported into the project is updated, not
/// duplicated; forecasts are left alone. Results are always added.</item>
/// <item>Where the tenant role may set <c>session_replication_role</c> (provisioning grants it, PostgreSQL 15+), the
/// inserts run without the per-row triggers: the search vectors are computed by the inserts themselves, the results'
/// references are checked by the insert's joins (a count short of the staged results is an unknown reference) and
/// cases and runs imported earlier are locked <c>FOR KEY SHARE</c>, as the foreign-key triggers would. Otherwise the
/// triggers run as usual.</item>
/// <item>The upload is read ahead and progress is written on a second connection, outside the import transaction, so
/// the row's status, percent and counts are visible while the import runs.</item>
/// <item>On success the row says Completed, 100 and the counts, and the large object is unlinked, in the same
/// transaction as the data. On a format fault the row says Failed with the fault's position and the upload is
/// unlinked (the file cannot get better by retrying); other errors put the row back to Pending and rethrow, so the
/// job's retry starts again from a clean slate.</item>
/// </list>
/// </summary>
public sealed class TestmoImporter(NpgsqlDataSource dataSource, TimeProvider time, int readBufferSize = TestmoExportReader.DefaultBufferSize)
{
    public const string ExternalRefPrefix = "testmo:";
    private const int TitleLength = 500;
    private const int RunNameLength = 300;
    private const int ProjectNameLength = 200;
    private const int ErrorLength = 4000;

    /// <summary>Runs the import; throws <see cref="TestmoFormatException"/> (row marked Failed) for a file that cannot be imported.</summary>
    public async Task<ImportOutcome> RunAsync(long importId, Func<ImportProgress, Task> onProgress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onProgress);
        await using var side = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await ReadRowAsync(side, importId, cancellationToken);
        if (row.Status == "Completed")
        {
            return new ImportOutcome(row.ProjectId ?? 0, row.Cases, row.Runs, row.Results, AlreadyCompleted: true);
        }
        if (row.UploadOid is not { } oid)
        {
            throw new TestmoFormatException($"Import {importId} has no stored upload any more; upload the file again.");
        }
        await ExecuteAsync(side, null, """
            UPDATE imports SET status = 'Running', started_at = @now, finished_at = NULL, progress = 0, error = NULL,
                   cases_imported = 0, runs_imported = 0, results_imported = 0
            WHERE id = @id
            """, cancellationToken, ("now", time.GetUtcNow()), ("id", importId));

        await using var main = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await main.BeginTransactionAsync(cancellationToken);
        ImportOutcome outcome;
        var clock = new PhaseClock();
        try
        {
            outcome = await ImportAsync(main, transaction, side, importId, row, oid, onProgress, clock, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            clock.Lap("commit");
        }
        catch (TestmoFormatException e)
        {
            await RollbackAsync(transaction);
            await ExecuteAsync(side, null, """
                UPDATE imports SET status = 'Failed', error = @error, finished_at = @now, upload_oid = NULL,
                       cases_imported = 0, runs_imported = 0, results_imported = 0
                WHERE id = @id
                """, CancellationToken.None, ("error", Truncate(e.Message, ErrorLength)), ("now", time.GetUtcNow()), ("id", importId));
            await LargeObjects.DeleteAsync(side, oid, CancellationToken.None);
            throw;
        }
        catch (Exception e)
        {
            await RollbackAsync(transaction);
            try
            {
                await ExecuteAsync(side, null, "UPDATE imports SET status = 'Pending', progress = 0, cases_imported = 0, runs_imported = 0, results_imported = 0, error = @error WHERE id = @id",
                    CancellationToken.None, ("error", Truncate($"The import was interrupted and will be retried: {e.Message}", ErrorLength)), ("id", importId));
            }
            catch (NpgsqlException)
            {
                // The side connection is what failed: the row keeps saying Running until the retry starts.
            }
            throw;
        }
        await onProgress(new ImportProgress(importId, 100, row.SizeBytes, row.SizeBytes, outcome.Cases, outcome.Runs, outcome.Results));
        return outcome with { Phases = clock.Phases };
    }

    private async Task<ImportOutcome> ImportAsync(NpgsqlConnection main, NpgsqlTransaction transaction, NpgsqlConnection side, long importId, ImportRow row, uint oid,
        Func<ImportProgress, Task> onProgress, PhaseClock clock, CancellationToken cancellationToken)
    {
        await ExecuteAsync(main, transaction, """
            CREATE TEMP TABLE testmo_cases (ord bigint, byte_offset bigint, line bigint, ext_id bigint, title text, description text) ON COMMIT DROP;
            CREATE TEMP TABLE testmo_runs (ord bigint, byte_offset bigint, line bigint, ext_id bigint, name text, created_at timestamptz) ON COMMIT DROP;
            CREATE TEMP TABLE testmo_results (ord bigint, byte_offset bigint, line bigint, case_ext bigint, run_ext bigint, status text,
                                              elapsed_ms bigint, comment text, executed_at timestamptz) ON COMMIT DROP;
            CREATE TEMP TABLE testmo_case_ids (ext_id bigint PRIMARY KEY, id bigint NOT NULL, earlier boolean NOT NULL DEFAULT false) ON COMMIT DROP;
            CREATE TEMP TABLE testmo_run_ids (ext_id bigint PRIMARY KEY, id bigint NOT NULL, earlier boolean NOT NULL DEFAULT false) ON COMMIT DROP;
            """, cancellationToken);

        var lastPercent = 0;
        long stagedResults;
        clock.Lap("start");
        // The upload is read ahead on the side connection, so fetching the next chunk overlaps parsing this one; the
        // progress writes take their turn on it through the gate.
        using var sideGate = new SemaphoreSlim(1, 1);
        await using (var upload = new TimedStream(LargeObjects.OpenReadAhead(side, sideGate, oid, row.SizeBytes)))
        await using (var staging = new Staging(main))
        {
            var reader = new TestmoExportReader(upload, readBufferSize);
            long copying = 0, reporting = 0;
            // Progress is written in the background, one report at a time: a percent reached while the previous
            // report is still being written is left to the next one (with newer counts), so the read never waits.
            var reporter = Task.CompletedTask;
            try
            {
                while (await reader.ReadAsync(staging, cancellationToken))
                {
                    var copyStart = Stopwatch.GetTimestamp();
                    await staging.FlushAsync(cancellationToken);
                    copying += Stopwatch.GetTimestamp() - copyStart;
                    // Reading is most of the work; the last percent is left for the set-based inserts and the commit.
                    var percent = (int)Math.Min(99, reader.BytesRead * 100 / Math.Max(1, row.SizeBytes));
                    if (percent > lastPercent && reporter.IsCompleted)
                    {
                        await reporter;
                        lastPercent = percent;
                        reporter = ReportAsync(side, sideGate, new ImportProgress(importId, percent, reader.BytesRead, row.SizeBytes, staging.Cases, staging.Runs, staging.Results),
                            onProgress, cancellationToken);
                    }
                }
                var reportStart = Stopwatch.GetTimestamp();
                await reporter;
                reporting += Stopwatch.GetTimestamp() - reportStart;
                var completeStart = Stopwatch.GetTimestamp();
                await staging.CompleteAsync(cancellationToken);
                copying += Stopwatch.GetTimestamp() - completeStart;
            }
            finally
            {
                // On a fault, the report under way has to be done before the side connection marks the row.
                await reporter.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            stagedResults = staging.Results;
            // The loop interleaves the three: reading the upload, parsing it, and the COPY's writes (server included).
            var loop = clock.Lap(null);
            clock.Add("read_wait", upload.Elapsed);
            clock.Add("copy", Stopwatch.GetElapsedTime(0, copying));
            clock.Add("progress_wait", Stopwatch.GetElapsedTime(0, reporting));
            clock.Add("parse", loop - upload.Elapsed - Stopwatch.GetElapsedTime(0, copying) - Stopwatch.GetElapsedTime(0, reporting));
        }

        var projectId = row.ProjectId ?? await CreateProjectAsync(main, transaction, row.FileName, cancellationToken);
        // A project this import creates has no cases or runs yet: plain inserts, and none imported earlier to look up.
        var newProject = row.ProjectId is null;
        await CheckDuplicatesAsync(main, transaction, projectId, cancellationToken);
        var bypass = await TriggersToBypassAsync(main, transaction, cancellationToken);
        if (bypass.CasesAndRuns && !newProject)
        {
            // What the cases' and runs' foreign-key checks would do: make sure of the project and lock it.
            await using var project = new NpgsqlCommand("SELECT count(*) FROM (SELECT 1 FROM projects WHERE id = @project FOR KEY SHARE) AS locked", main, transaction);
            project.Parameters.AddWithValue("project", projectId);
            if ((long)(await project.ExecuteScalarAsync(cancellationToken))! != 1)
            {
                throw new InvalidOperationException($"Project {projectId} was deleted while the import ran.");
            }
        }
        clock.Lap("check");
        var now = time.GetUtcNow();
        // Upsert by external_ref, keeping Testmo id -> our id for the results (cases and runs imported earlier too).
        // Without the triggers, each row's search vector is computed here, by the function its trigger calls.
        var setVectors = bypass.CasesAndRuns;
        var (replica, origin) = setVectors ? ("SET LOCAL session_replication_role = replica;", "SET LOCAL session_replication_role = origin;") : ("", "");
        var insertedCases = await ExecuteAsync(main, transaction, $"""
            {replica}
            WITH upserted AS (
                INSERT INTO test_cases (project_id, title, description, external_ref, created_at{(setVectors ? ", search_vector" : "")})
                SELECT @project, title, description, external_ref, @now{(setVectors ? ", test_case_search_vector((SELECT search_language()), title, description, external_ref)" : "")}
                FROM (SELECT ord, left(title, {TitleLength}) AS title, description, '{ExternalRefPrefix}' || ext_id AS external_ref FROM testmo_cases) AS staged
                ORDER BY ord
                {(newProject ? "" : $"ON CONFLICT (project_id, external_ref) WHERE external_ref IS NOT NULL DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description{(setVectors ? ", search_vector = EXCLUDED.search_vector" : "")}")}
                RETURNING id, external_ref)
            INSERT INTO testmo_case_ids SELECT substring(external_ref FROM {ExternalRefPrefix.Length + 1})::bigint, id FROM upserted;
            {origin}
            """, cancellationToken, ("project", projectId), ("now", now));
        clock.Lap("insert_cases");
        var insertedRuns = await ExecuteAsync(main, transaction, $"""
            {replica}
            WITH upserted AS (
                INSERT INTO test_runs (project_id, name, external_ref, created_at{(setVectors ? ", search_vector" : "")})
                SELECT @project, name, external_ref, coalesce(created_at, @now){(setVectors ? ", test_run_search_vector((SELECT search_language()), name, external_ref)" : "")}
                FROM (SELECT ord, left(name, {RunNameLength}) AS name, '{ExternalRefPrefix}' || ext_id AS external_ref, created_at FROM testmo_runs) AS staged
                ORDER BY ord
                {(newProject ? "" : $"ON CONFLICT (project_id, external_ref) WHERE external_ref IS NOT NULL DO UPDATE SET name = EXCLUDED.name{(setVectors ? ", search_vector = EXCLUDED.search_vector" : "")}")}
                RETURNING id, external_ref)
            INSERT INTO testmo_run_ids SELECT substring(external_ref FROM {ExternalRefPrefix.Length + 1})::bigint, id FROM upserted;
            {origin}
            """, cancellationToken, ("project", projectId), ("now", now));
        clock.Lap("insert_runs");
        // Cases and runs imported earlier, not in this file, that results may name: "earlier" marks the rows this
        // transaction has not written itself (and so holds no lock on).
        var earlier = newProject ? 0 : await ExecuteAsync(main, transaction, $$"""
            INSERT INTO testmo_case_ids
            SELECT substring(external_ref FROM {{ExternalRefPrefix.Length + 1}})::bigint, id, true FROM test_cases
            WHERE project_id = @project AND external_ref ~ '^{{ExternalRefPrefix}}[0-9]{1,18}$'
            ON CONFLICT (ext_id) DO NOTHING;
            INSERT INTO testmo_run_ids
            SELECT substring(external_ref FROM {{ExternalRefPrefix.Length + 1}})::bigint, id, true FROM test_runs
            WHERE project_id = @project AND external_ref ~ '^{{ExternalRefPrefix}}[0-9]{1,18}$'
            ON CONFLICT (ext_id) DO NOTHING;
            """, cancellationToken, ("project", projectId));
        // Temporary tables are never auto-analysed: without statistics on the id maps the planner joins millions of
        // results by index probes. The results' own statistics are not needed (their size is known from their pages).
        await ExecuteAsync(main, transaction, "ANALYZE testmo_case_ids; ANALYZE testmo_run_ids", cancellationToken);
        clock.Lap("id_maps");
        var setBased = bypass.Results;
        if (setBased)
        {
            if (earlier > 0)
            {
                await LockEarlierReferencesAsync(main, transaction, cancellationToken);
            }
            clock.Lap("lock_references");
        }
        // Sorted by case: the (case_id, executed_at) index and the foreign-key probes then walk their pages in order
        // instead of jumping around an index larger than shared_buffers.
        var insertedResults = await ExecuteAsync(main, transaction, $"""
            {(setBased ? "SET LOCAL session_replication_role = replica;" : "")}
            INSERT INTO test_results (run_id, case_id, status, elapsed_ms, comment, executed_at)
            SELECT u.id, c.id, r.status, r.elapsed_ms, r.comment, coalesce(r.executed_at, @now)
            FROM testmo_results r
            JOIN testmo_case_ids c ON c.ext_id = r.case_ext
            JOIN testmo_run_ids u ON u.ext_id = r.run_ext
            ORDER BY c.id;
            {(setBased ? "SET LOCAL session_replication_role = origin;" : "")}
            """, cancellationToken, ("now", now));
        clock.Lap("insert_results");
        // The joins above are the check that every result names a case and a run the file or the project has.
        if (insertedResults != stagedResults)
        {
            throw await UnknownReferenceAsync(main, transaction, cancellationToken);
        }

        await ExecuteAsync(main, transaction, """
            UPDATE imports SET status = 'Completed', progress = 100, error = NULL, finished_at = @now, upload_oid = NULL, project_id = @project,
                   cases_imported = @cases, runs_imported = @runs, results_imported = @results
            WHERE id = @id
            """, cancellationToken, ("now", time.GetUtcNow()), ("project", projectId), ("cases", insertedCases), ("runs", insertedRuns),
            ("results", insertedResults), ("id", importId));
        // In the import's transaction: the upload disappears exactly when its data has arrived.
        await ExecuteAsync(main, transaction, "SELECT lo_unlink(@oid)", cancellationToken, ("oid", oid));
        clock.Lap("finish");
        return new ImportOutcome(projectId, insertedCases, insertedRuns, insertedResults) { SetBasedReferenceChecks = setBased, SetBasedSearchVectors = setVectors };
    }

    /// <summary>
    /// Which inserts may go without their tables' per-row triggers, doing the triggers' work set-based instead.
    /// <list type="bullet">
    /// <item>Results (the foreign-key checks, about half of the import's time): every case and run id they get comes
    /// from the id maps, that is from rows this transaction wrote or locks (<see cref="LockEarlierReferencesAsync"/>),
    /// so the checks would only find what is known already. Only while test_results has exactly the foreign keys that
    /// reasoning covers and no trigger or rule of its own, which replica mode would silently skip too.</item>
    /// <item>Cases and runs (their search vectors and the project's foreign key): the insert computes each vector with
    /// the function the trigger calls, and locks the project as the check would. Only while their triggers are exactly
    /// the search-vector ones as <c>SearchVectors</c> made them, and their foreign keys and rules as known.</item>
    /// </list>
    /// Both take the right to set <c>session_replication_role</c> (a superuser, or on PostgreSQL 15 and later
    /// <c>GRANT SET ON PARAMETER session_replication_role</c>); without it every trigger runs, as before.
    /// </summary>
    private static async Task<(bool Results, bool CasesAndRuns)> TriggersToBypassAsync(NpgsqlConnection main, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var privilege = main.PostgreSqlVersion.Major >= 15
            ? "has_parameter_privilege('session_replication_role', 'SET')"
            : "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)";
        await using var command = new NpgsqlCommand($$"""
            WITH foreign_keys AS (
                SELECT c.conrelid::regclass AS tab, c.confrelid::regclass AS target,
                       (SELECT string_agg(a.attname, ',') FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) AS columns
                FROM pg_constraint c
                WHERE c.contype = 'f' AND c.conrelid IN ('test_results'::regclass, 'test_cases'::regclass, 'test_runs'::regclass)),
            triggers AS (
                SELECT t.tgrelid::regclass AS tab, t.tgname || ': ' || btrim(regexp_replace(p.prosrc, '\s+', ' ', 'g')) AS definition
                FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE NOT t.tgisinternal AND t.tgrelid IN ('test_results'::regclass, 'test_cases'::regclass, 'test_runs'::regclass))
            SELECT {{privilege}}
                   AND NOT EXISTS (SELECT 1 FROM triggers WHERE tab = 'test_results'::regclass)
                   AND NOT EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = 'test_results'::regclass)
                   AND NOT EXISTS (SELECT 1 FROM foreign_keys WHERE tab = 'test_results'::regclass
                       AND (target, columns) NOT IN (('test_cases'::regclass, 'case_id'), ('test_runs'::regclass, 'run_id'), ('users'::regclass, 'executed_by_id'))),
                   {{privilege}}
                   AND (SELECT array_agg(definition ORDER BY definition) FROM triggers WHERE tab IN ('test_cases'::regclass, 'test_runs'::regclass))
                       = ARRAY['{{CaseTrigger}}', '{{RunTrigger}}']
                   AND NOT EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class IN ('test_cases'::regclass, 'test_runs'::regclass))
                   AND (SELECT array_agg(k ORDER BY k) FROM (SELECT tab::text || ' ' || target::text || ' ' || columns AS k FROM foreign_keys WHERE tab <> 'test_results'::regclass) AS keys)
                       = ARRAY['test_cases projects project_id', 'test_runs projects project_id', 'test_runs users created_by_id']
            """, main, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetBoolean(0), !reader.IsDBNull(1) && reader.GetBoolean(1));
    }

    // The search-vector triggers as the SearchVectors migration made them (name: body, white space collapsed); the
    // cases' and runs' inserts reproduce exactly these when they go without them.
    private const string CaseTrigger = "tr_test_cases_search_vector: BEGIN NEW.search_vector := test_case_search_vector(search_language(), NEW.title, NEW.description, NEW.external_ref); RETURN NEW; END";
    private const string RunTrigger = "tr_test_runs_search_vector: BEGIN NEW.search_vector := test_run_search_vector(search_language(), NEW.name, NEW.external_ref); RETURN NEW; END";

    /// <summary>
    /// The lock the foreign-key triggers would take (FOR KEY SHARE) on the cases and runs imported earlier that the
    /// results name, so nobody deletes one before this transaction commits. One deleted meanwhile fails the import
    /// (retried: the file is fine), as the triggers would have.
    /// </summary>
    private static async Task LockEarlierReferencesAsync(NpgsqlConnection main, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        foreach (var (map, table, column) in new[] { ("testmo_case_ids", "test_cases", "case_ext"), ("testmo_run_ids", "test_runs", "run_ext") })
        {
            await using var command = new NpgsqlCommand($"""
                WITH named AS (
                    SELECT m.id FROM {map} m WHERE m.earlier AND EXISTS (SELECT 1 FROM testmo_results r WHERE r.{column} = m.ext_id)),
                locked AS (
                    SELECT t.id FROM {table} t WHERE t.id IN (SELECT id FROM named) FOR KEY SHARE OF t)
                SELECT (SELECT count(*) FROM named) = (SELECT count(*) FROM locked)
                """, main, transaction);
            if (!(bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                throw new InvalidOperationException($"A row of {table} that the file's results name was deleted while the import ran.");
            }
        }
    }

    private static async Task ReportAsync(NpgsqlConnection side, SemaphoreSlim sideGate, ImportProgress progress, Func<ImportProgress, Task> onProgress,
        CancellationToken cancellationToken)
    {
        await sideGate.WaitAsync(cancellationToken);
        try
        {
            // Progress is a hint, not data: its commits need not wait for the WAL to reach the disk (a crash loses at
            // most the last few percent of a row the retry resets anyway).
            await ExecuteAsync(side, null, """
                BEGIN;
                SET LOCAL synchronous_commit = off;
                UPDATE imports SET progress = @progress, cases_imported = @cases, runs_imported = @runs, results_imported = @results WHERE id = @id;
                COMMIT;
                """, cancellationToken, ("progress", progress.Percent), ("cases", (int)Math.Min(int.MaxValue, progress.Cases)),
                ("runs", (int)Math.Min(int.MaxValue, progress.Runs)), ("results", (int)Math.Min(int.MaxValue, progress.Results)), ("id", progress.ImportId));
        }
        finally
        {
            sideGate.Release();
        }
        await onProgress(progress);
    }

    /// <summary>The faults only the whole file shows and the upserts cannot take: a case or run id given twice.</summary>
    private static async Task CheckDuplicatesAsync(NpgsqlConnection main, NpgsqlTransaction transaction, long projectId, CancellationToken cancellationToken)
    {
        foreach (var (table, name) in new[] { ("testmo_cases", "cases"), ("testmo_runs", "runs") })
        {
            await FailIfAnyAsync(main, transaction, $"""
                SELECT ord, byte_offset, line, ext_id FROM (
                    SELECT ord, byte_offset, line, ext_id, row_number() OVER (PARTITION BY ext_id ORDER BY ord) AS n FROM {table}) AS d
                WHERE n = 2 ORDER BY ord LIMIT 1
                """, projectId, (ord, id) => ($"{name}[{ord}].id", $"id {id} appears more than once in {name}."), cancellationToken);
        }
    }

    /// <summary>
    /// Called when fewer results went in than the file holds: the insert's joins left out the ones naming a case or
    /// run that neither the file nor the project has. Throws for the first of them in the file.
    /// </summary>
    private static async Task<TestmoFormatException> UnknownReferenceAsync(NpgsqlConnection main, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT r.ord, r.byte_offset, r.line, r.case_ext, r.run_ext, c.ext_id IS NULL FROM testmo_results r
            LEFT JOIN testmo_case_ids c ON c.ext_id = r.case_ext
            LEFT JOIN testmo_run_ids u ON u.ext_id = r.run_ext
            WHERE c.ext_id IS NULL OR u.ext_id IS NULL
            ORDER BY r.ord LIMIT 1
            """, main, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("Fewer results were inserted than the file holds, yet every one names a known case and run.");
        }
        var (what, id) = reader.GetBoolean(5) ? ("case", reader.GetInt64(3)) : ("run", reader.GetInt64(4));
        return TestmoFormatException.At(reader.GetInt64(1), reader.GetInt64(2), $"results[{reader.GetInt64(0)}].{what}_id",
            $"{what} {id} is neither in the file's {what}s nor already imported into the project.");
    }

    private static async Task FailIfAnyAsync(NpgsqlConnection main, NpgsqlTransaction transaction, string sql, long projectId,
        Func<long, long, (string Path, string Problem)> describe, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, main, transaction);
        command.Parameters.AddWithValue("project", projectId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (await reader.ReadAsync(cancellationToken))
        {
            var (path, problem) = describe(reader.GetInt64(0), reader.GetInt64(3));
            throw TestmoFormatException.At(reader.GetInt64(1), reader.GetInt64(2), path, problem);
        }
    }

    /// <summary>A project for an import that names none: the file's name, made unique with " (2)", " (3)", ...</summary>
    private static async Task<long> CreateProjectAsync(NpgsqlConnection main, NpgsqlTransaction transaction, string fileName, CancellationToken cancellationToken)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName).Trim();
        stem = Truncate(stem.Length == 0 ? "Testmo import" : stem, ProjectNameLength - 8);
        for (var n = 1; ; n++)
        {
            var name = n == 1 ? stem : $"{stem} ({n})";
            await using var insert = new NpgsqlCommand("""
                INSERT INTO projects (name, description, created_at) SELECT @name, @description, @now
                WHERE NOT EXISTS (SELECT 1 FROM projects WHERE name = @name) RETURNING id
                """, main, transaction);
            insert.Parameters.AddWithValue("name", name);
            insert.Parameters.AddWithValue("description", $"Imported from Testmo ({fileName}).");
            insert.Parameters.AddWithValue("now", DateTimeOffset.UtcNow);
            if (await insert.ExecuteScalarAsync(cancellationToken) is long id)
            {
                return id;
            }
        }
    }

    private static async Task<ImportRow> ReadRowAsync(NpgsqlConnection connection, long importId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT file_name, size_bytes, upload_oid, status, project_id, cases_imported, runs_imported, results_imported FROM imports WHERE id = @id
            """, connection);
        command.Parameters.AddWithValue("id", importId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new TestmoFormatException($"Import {importId} does not exist in this tenant's database.");
        }
        return new ImportRow(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : (uint)reader.GetInt64(2), reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetInt64(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7));
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is uint oid
                ? new NpgsqlParameter<uint>(name, NpgsqlDbType.Oid) { TypedValue = oid }
                : new NpgsqlParameter(name, value));
        }
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task RollbackAsync(NpgsqlTransaction transaction)
    {
        try
        {
            await transaction.RollbackAsync(CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // A broken connection has rolled the transaction back already; the original error is the one to report.
        }
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    private sealed record ImportRow(string FileName, long SizeBytes, uint? UploadOid, string Status, long? ProjectId, int Cases, int Runs, int Results);

    /// <summary>
    /// The staging tables' side of the read: each array's elements become binary COPY rows, encoded straight from the
    /// reader's spans into one buffer that is written whenever it holds <see cref="FlushBytes"/>; one COPY per array.
    /// </summary>
    private sealed class Staging(NpgsqlConnection connection) : ITestmoExportSink, IAsyncDisposable
    {
        private const int FlushBytes = 128 * 1024;
        private const long PostgresEpochTicks = 630_822_816_000_000_000; // 2000-01-01T00:00:00Z
        private static readonly byte[] Header = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];
        private static readonly byte[][] StatusNames = [.. Enum.GetValues<TestResultStatus>().Select(s => Encoding.UTF8.GetBytes(s.ToString()))];

        private byte[] _rows = ArrayPool<byte>.Shared.Rent(2 * FlushBytes);
        private int _length;
        private NpgsqlRawCopyStream? _copy;
        private TestmoArray? _current;
        private TestmoArray? _pending;

        public long Cases { get; private set; }
        public long Runs { get; private set; }
        public long Results { get; private set; }

        public bool NeedsFlush => _length >= FlushBytes || _pending != _current;

        public void StartArray(TestmoArray array) => _pending = array;

        public void Case(in TestmoCaseElement element)
        {
            Reserve(2 + 4 * 12 + 8 + element.Name.Length + element.Description.Length);
            Int16(6);
            Bigint(element.Index);
            Bigint(element.Offset);
            Bigint(element.Line);
            Bigint(element.Id);
            Text(element.Name);
            if (element.HasDescription)
            {
                Text(element.Description);
            }
            else
            {
                Null();
            }
            Cases++;
        }

        public void Run(in TestmoRunElement element)
        {
            Reserve(2 + 5 * 12 + 4 + element.Name.Length);
            Int16(6);
            Bigint(element.Index);
            Bigint(element.Offset);
            Bigint(element.Line);
            Bigint(element.Id);
            Text(element.Name);
            Timestamp(element.CreatedAt);
            Runs++;
        }

        public void Result(in TestmoResultElement element)
        {
            var status = StatusNames[(int)element.Status];
            Reserve(2 + 7 * 12 + 8 + status.Length + element.Comment.Length);
            Int16(9);
            Bigint(element.Index);
            Bigint(element.Offset);
            Bigint(element.Line);
            Bigint(element.CaseId);
            Bigint(element.RunId);
            Text(status);
            if (element.ElapsedMs is { } elapsed)
            {
                Bigint(elapsed);
            }
            else
            {
                Null();
            }
            if (element.HasComment)
            {
                Text(element.Comment);
            }
            else
            {
                Null();
            }
            Timestamp(element.CreatedAt);
            Results++;
        }

        /// <summary>Writes what the buffer holds once it is full, and moves to the next array's table when one began.</summary>
        public async Task FlushAsync(CancellationToken cancellationToken)
        {
            if (_pending != _current)
            {
                await EndCopyAsync(cancellationToken);
                _copy = await connection.BeginRawBinaryCopyAsync(_pending switch
                {
                    TestmoArray.Cases => "COPY testmo_cases (ord, byte_offset, line, ext_id, title, description) FROM STDIN (FORMAT BINARY)",
                    TestmoArray.Runs => "COPY testmo_runs (ord, byte_offset, line, ext_id, name, created_at) FROM STDIN (FORMAT BINARY)",
                    _ => "COPY testmo_results (ord, byte_offset, line, case_ext, run_ext, status, elapsed_ms, comment, executed_at) FROM STDIN (FORMAT BINARY)",
                }, cancellationToken);
                _current = _pending;
                Header.CopyTo(_rows, 0);
                _length = Header.Length;
            }
            else if (_length >= FlushBytes)
            {
                await WriteAsync(cancellationToken);
            }
        }

        /// <summary>Writes the rest and ends the COPY under way.</summary>
        public Task CompleteAsync(CancellationToken cancellationToken) => EndCopyAsync(cancellationToken);

        private async Task EndCopyAsync(CancellationToken cancellationToken)
        {
            if (_copy is null)
            {
                return;
            }
            Reserve(2);
            Int16(-1);
            await WriteAsync(cancellationToken);
            var copy = _copy;
            _copy = null;
            // Disposing a raw COPY stream ends the COPY and waits for the server's answer to it.
            await copy.DisposeAsync();
        }

        private async Task WriteAsync(CancellationToken cancellationToken)
        {
            await _copy!.WriteAsync(_rows.AsMemory(0, _length), cancellationToken);
            _length = 0;
        }

        private void Reserve(int bytes)
        {
            if (_length + bytes > _rows.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(2 * _rows.Length, _length + bytes));
                _rows.AsSpan(0, _length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_rows);
                _rows = larger;
            }
        }

        private void Int16(short value)
        {
            BinaryPrimitives.WriteInt16BigEndian(_rows.AsSpan(_length), value);
            _length += 2;
        }

        private void Int32(int value)
        {
            BinaryPrimitives.WriteInt32BigEndian(_rows.AsSpan(_length), value);
            _length += 4;
        }

        private void Bigint(long value)
        {
            Int32(8);
            BinaryPrimitives.WriteInt64BigEndian(_rows.AsSpan(_length), value);
            _length += 8;
        }

        private void Text(ReadOnlySpan<byte> utf8)
        {
            Int32(utf8.Length);
            utf8.CopyTo(_rows.AsSpan(_length));
            _length += utf8.Length;
        }

        private void Null() => Int32(-1);

        /// <summary>Microseconds since 2000 as Npgsql writes them: truncated, and the extremes as -infinity and infinity.</summary>
        private void Timestamp(DateTimeOffset? value)
        {
            if (value is not { } at)
            {
                Null();
                return;
            }
            Bigint(at == DateTimeOffset.MinValue ? long.MinValue
                : at == DateTimeOffset.MaxValue ? long.MaxValue
                : (at.UtcTicks - PostgresEpochTicks) / 10);
        }

        public async ValueTask DisposeAsync()
        {
            // Still open only after a fault: cancel the COPY (the transaction is rolled back anyway).
            if (_copy is not null)
            {
                try
                {
                    await _copy.CancelAsync();
                }
                catch (Exception e) when (e is NpgsqlException or OperationCanceledException or InvalidOperationException)
                {
                    // A broken connection has ended the COPY already; the original error is the one to report.
                }
                await _copy.DisposeAsync();
                _copy = null;
            }
            ArrayPool<byte>.Shared.Return(_rows);
            _rows = [];
        }
    }
}

/// <summary>Wall-clock laps of an import's phases; a phase measured several times is summed.</summary>
internal sealed class PhaseClock
{
    private readonly List<ImportPhase> _phases = [];
    private long _lap = Stopwatch.GetTimestamp();

    public IReadOnlyList<ImportPhase> Phases => _phases;

    /// <summary>Ends the current lap, adding it to <paramref name="name"/> (when given); returns its length.</summary>
    public TimeSpan Lap(string? name)
    {
        var now = Stopwatch.GetTimestamp();
        var elapsed = Stopwatch.GetElapsedTime(_lap, now);
        _lap = now;
        if (name is not null)
        {
            Add(name, elapsed);
        }
        return elapsed;
    }

    public void Add(string name, TimeSpan elapsed)
    {
        var i = _phases.FindIndex(p => p.Name == name);
        if (i < 0)
        {
            _phases.Add(new ImportPhase(name, elapsed));
        }
        else
        {
            _phases[i] = _phases[i] with { Elapsed = _phases[i].Elapsed + elapsed };
        }
    }
}

/// <summary>A read-only stream that adds up the time its reads take.</summary>
internal sealed class TimedStream(Stream inner) : Stream
{
    private long _ticks;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(0, _ticks);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var read = await inner.ReadAsync(buffer, cancellationToken);
        _ticks += Stopwatch.GetTimestamp() - start;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }
}
