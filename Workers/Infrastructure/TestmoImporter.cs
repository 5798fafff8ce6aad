using System.Diagnostics;
using Domain.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace Workers.Infrastructure;

/// <summary>How far an import has got: bytes of the upload read and elements found so far.</summary>
public sealed record ImportProgress(long ImportId, int Percent, long BytesRead, long TotalBytes, long Cases, long Runs, long Results);

/// <summary>The import ended without error; the counts are the rows written (or updated, for re-imported cases and runs).</summary>
public sealed record ImportOutcome(long ProjectId, int Cases, int Runs, int Results, bool AlreadyCompleted = false)
{
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
/// <item>The upload is read and progress is written on a second connection, outside the import transaction, so
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
            """, cancellationToken);

        long cases = 0, runs = 0, results = 0;
        var lastPercent = 0;
        clock.Lap("start");
        await using (var upload = new TimedStream(LargeObjects.OpenRead(side, oid, row.SizeBytes)))
        {
            var reader = new TestmoExportReader(upload, readBufferSize);
            long copying = 0, reporting = 0;
            var staging = new Staging(main);
            var batch = new List<TestmoRecord>();
            try
            {
                while (await reader.ReadAsync(batch, cancellationToken))
                {
                    var copyStart = Stopwatch.GetTimestamp();
                    foreach (var record in batch)
                    {
                        await staging.WriteAsync(record, cancellationToken);
                        if (record is TestmoCase)
                        {
                            cases++;
                        }
                        else if (record is TestmoRun)
                        {
                            runs++;
                        }
                        else
                        {
                            results++;
                        }
                    }
                    batch.Clear();
                    copying += Stopwatch.GetTimestamp() - copyStart;
                    // Reading is most of the work; the last percent is left for the set-based inserts and the commit.
                    var percent = (int)Math.Min(99, reader.BytesRead * 100 / Math.Max(1, row.SizeBytes));
                    if (percent > lastPercent)
                    {
                        lastPercent = percent;
                        var reportStart = Stopwatch.GetTimestamp();
                        await ReportAsync(side, new ImportProgress(importId, percent, reader.BytesRead, row.SizeBytes, cases, runs, results), onProgress, cancellationToken);
                        reporting += Stopwatch.GetTimestamp() - reportStart;
                    }
                }
                var completeStart = Stopwatch.GetTimestamp();
                await staging.CompleteAsync(cancellationToken);
                copying += Stopwatch.GetTimestamp() - completeStart;
            }
            finally
            {
                await staging.DisposeAsync();
            }
            // The loop interleaves the three: reading the upload, parsing it, and the COPY's writes (server included).
            var loop = clock.Lap(null);
            clock.Add("read", upload.Elapsed);
            clock.Add("copy", Stopwatch.GetElapsedTime(0, copying));
            clock.Add("progress", Stopwatch.GetElapsedTime(0, reporting));
            clock.Add("parse", loop - upload.Elapsed - Stopwatch.GetElapsedTime(0, copying) - Stopwatch.GetElapsedTime(0, reporting));
        }

        // Temporary tables are never auto-analysed: without statistics the planner joins millions of rows by index probes.
        await ExecuteAsync(main, transaction, "ANALYZE testmo_cases; ANALYZE testmo_runs; ANALYZE testmo_results", cancellationToken);
        clock.Lap("analyze");
        var projectId = row.ProjectId ?? await CreateProjectAsync(main, transaction, row.FileName, cancellationToken);
        await CheckAsync(main, transaction, projectId, cancellationToken);
        clock.Lap("check");
        var now = time.GetUtcNow();
        // Upsert by external_ref, keeping Testmo id -> our id for the results (cases and runs imported earlier too).
        var insertedCases = await ExecuteAsync(main, transaction, $"""
            CREATE TEMP TABLE testmo_case_ids (ext_id bigint PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP;
            WITH upserted AS (
                INSERT INTO test_cases (project_id, title, description, external_ref, created_at)
                SELECT @project, left(title, {TitleLength}), description, '{ExternalRefPrefix}' || ext_id, @now FROM testmo_cases ORDER BY ord
                ON CONFLICT (project_id, external_ref) WHERE external_ref IS NOT NULL
                DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description
                RETURNING id, external_ref)
            INSERT INTO testmo_case_ids SELECT substring(external_ref FROM {ExternalRefPrefix.Length + 1})::bigint, id FROM upserted
            """, cancellationToken, ("project", projectId), ("now", now));
        clock.Lap("insert_cases");
        var insertedRuns = await ExecuteAsync(main, transaction, $"""
            CREATE TEMP TABLE testmo_run_ids (ext_id bigint PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP;
            WITH upserted AS (
                INSERT INTO test_runs (project_id, name, external_ref, created_at)
                SELECT @project, left(name, {RunNameLength}), '{ExternalRefPrefix}' || ext_id, coalesce(created_at, @now) FROM testmo_runs ORDER BY ord
                ON CONFLICT (project_id, external_ref) WHERE external_ref IS NOT NULL
                DO UPDATE SET name = EXCLUDED.name
                RETURNING id, external_ref)
            INSERT INTO testmo_run_ids SELECT substring(external_ref FROM {ExternalRefPrefix.Length + 1})::bigint, id FROM upserted
            """, cancellationToken, ("project", projectId), ("now", now));
        clock.Lap("insert_runs");
        await ExecuteAsync(main, transaction, $$"""
            INSERT INTO testmo_case_ids
            SELECT substring(external_ref FROM {{ExternalRefPrefix.Length + 1}})::bigint, id FROM test_cases
            WHERE project_id = @project AND external_ref ~ '^{{ExternalRefPrefix}}[0-9]{1,18}$'
            ON CONFLICT (ext_id) DO NOTHING;
            INSERT INTO testmo_run_ids
            SELECT substring(external_ref FROM {{ExternalRefPrefix.Length + 1}})::bigint, id FROM test_runs
            WHERE project_id = @project AND external_ref ~ '^{{ExternalRefPrefix}}[0-9]{1,18}$'
            ON CONFLICT (ext_id) DO NOTHING;
            ANALYZE testmo_case_ids; ANALYZE testmo_run_ids;
            """, cancellationToken, ("project", projectId));
        clock.Lap("id_maps");
        // Sorted by case: the (case_id, executed_at) index and the foreign-key probes then walk their pages in order
        // instead of jumping around an index larger than shared_buffers.
        var insertedResults = await ExecuteAsync(main, transaction, """
            INSERT INTO test_results (run_id, case_id, status, elapsed_ms, comment, executed_at)
            SELECT u.id, c.id, r.status, r.elapsed_ms, r.comment, coalesce(r.executed_at, @now)
            FROM testmo_results r
            JOIN testmo_case_ids c ON c.ext_id = r.case_ext
            JOIN testmo_run_ids u ON u.ext_id = r.run_ext
            ORDER BY c.id
            """, cancellationToken, ("now", now));
        clock.Lap("insert_results");

        await ExecuteAsync(main, transaction, """
            UPDATE imports SET status = 'Completed', progress = 100, error = NULL, finished_at = @now, upload_oid = NULL, project_id = @project,
                   cases_imported = @cases, runs_imported = @runs, results_imported = @results
            WHERE id = @id
            """, cancellationToken, ("now", time.GetUtcNow()), ("project", projectId), ("cases", insertedCases), ("runs", insertedRuns),
            ("results", insertedResults), ("id", importId));
        // In the import's transaction: the upload disappears exactly when its data has arrived.
        await ExecuteAsync(main, transaction, "SELECT lo_unlink(@oid)", cancellationToken, ("oid", oid));
        clock.Lap("finish");
        return new ImportOutcome(projectId, insertedCases, insertedRuns, insertedResults);
    }

    private static async Task ReportAsync(NpgsqlConnection side, ImportProgress progress, Func<ImportProgress, Task> onProgress, CancellationToken cancellationToken)
    {
        await ExecuteAsync(side, null, """
            UPDATE imports SET progress = @progress, cases_imported = @cases, runs_imported = @runs, results_imported = @results WHERE id = @id
            """, cancellationToken, ("progress", progress.Percent), ("cases", (int)Math.Min(int.MaxValue, progress.Cases)),
            ("runs", (int)Math.Min(int.MaxValue, progress.Runs)), ("results", (int)Math.Min(int.MaxValue, progress.Results)), ("id", progress.ImportId));
        await onProgress(progress);
    }

    /// <summary>The faults only the whole file shows: repeated ids and results naming a case or run nobody has.</summary>
    private static async Task CheckAsync(NpgsqlConnection main, NpgsqlTransaction transaction, long projectId, CancellationToken cancellationToken)
    {
        foreach (var (table, name) in new[] { ("testmo_cases", "cases"), ("testmo_runs", "runs") })
        {
            await FailIfAnyAsync(main, transaction, $"""
                SELECT ord, byte_offset, line, ext_id FROM (
                    SELECT ord, byte_offset, line, ext_id, row_number() OVER (PARTITION BY ext_id ORDER BY ord) AS n FROM {table}) AS d
                WHERE n = 2 ORDER BY ord LIMIT 1
                """, projectId, (ord, id) => ($"{name}[{ord}].id", $"id {id} appears more than once in {name}."), cancellationToken);
        }
        foreach (var (column, table, target, what) in new[] { ("case_ext", "testmo_cases", "test_cases", "case"), ("run_ext", "testmo_runs", "test_runs", "run") })
        {
            await FailIfAnyAsync(main, transaction, $"""
                SELECT r.ord, r.byte_offset, r.line, r.{column} FROM testmo_results r
                WHERE NOT EXISTS (SELECT 1 FROM {table} s WHERE s.ext_id = r.{column})
                  AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.project_id = @project AND t.external_ref = '{ExternalRefPrefix}' || r.{column})
                ORDER BY r.ord LIMIT 1
                """, projectId, (ord, id) => ($"results[{ord}].{what}_id", $"{what} {id} is neither in the file's {what}s nor already imported into the project."), cancellationToken);
        }
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

    /// <summary>One binary COPY at a time into the staging table of the elements being read.</summary>
    private sealed class Staging(NpgsqlConnection connection) : IAsyncDisposable
    {
        private NpgsqlBinaryImporter? _copy;
        private Type? _kind;

        public async Task WriteAsync(TestmoRecord record, CancellationToken cancellationToken)
        {
            if (_kind != record.GetType())
            {
                await CompleteAsync(cancellationToken);
                _copy = await connection.BeginBinaryImportAsync(record switch
                {
                    TestmoCase => "COPY testmo_cases (ord, byte_offset, line, ext_id, title, description) FROM STDIN (FORMAT BINARY)",
                    TestmoRun => "COPY testmo_runs (ord, byte_offset, line, ext_id, name, created_at) FROM STDIN (FORMAT BINARY)",
                    _ => "COPY testmo_results (ord, byte_offset, line, case_ext, run_ext, status, elapsed_ms, comment, executed_at) FROM STDIN (FORMAT BINARY)",
                }, cancellationToken);
                _kind = record.GetType();
            }
            var copy = _copy!;
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(record.Index, NpgsqlDbType.Bigint, cancellationToken);
            await copy.WriteAsync(record.Offset, NpgsqlDbType.Bigint, cancellationToken);
            await copy.WriteAsync(record.Line, NpgsqlDbType.Bigint, cancellationToken);
            switch (record)
            {
                case TestmoCase c:
                    await copy.WriteAsync(c.Id, NpgsqlDbType.Bigint, cancellationToken);
                    await copy.WriteAsync(c.Name, NpgsqlDbType.Text, cancellationToken);
                    await WriteNullableAsync(copy, c.Description, NpgsqlDbType.Text, cancellationToken);
                    break;
                case TestmoRun r:
                    await copy.WriteAsync(r.Id, NpgsqlDbType.Bigint, cancellationToken);
                    await copy.WriteAsync(r.Name, NpgsqlDbType.Text, cancellationToken);
                    await WriteNullableAsync(copy, r.CreatedAt, NpgsqlDbType.TimestampTz, cancellationToken);
                    break;
                case TestmoResult r:
                    await copy.WriteAsync(r.CaseId, NpgsqlDbType.Bigint, cancellationToken);
                    await copy.WriteAsync(r.RunId, NpgsqlDbType.Bigint, cancellationToken);
                    await copy.WriteAsync(r.Status.ToString(), NpgsqlDbType.Text, cancellationToken);
                    await WriteNullableAsync(copy, r.ElapsedMs, NpgsqlDbType.Bigint, cancellationToken);
                    await WriteNullableAsync(copy, r.Comment, NpgsqlDbType.Text, cancellationToken);
                    await WriteNullableAsync(copy, r.CreatedAt, NpgsqlDbType.TimestampTz, cancellationToken);
                    break;
                default:
                    throw new InvalidOperationException($"Unknown record {record.GetType().Name}.");
            }
        }

        private static async Task WriteNullableAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
        {
            if (value is null)
            {
                await copy.WriteNullAsync(cancellationToken);
            }
            else
            {
                await copy.WriteAsync(value, type, cancellationToken);
            }
        }

        public async Task CompleteAsync(CancellationToken cancellationToken)
        {
            if (_copy is not null)
            {
                await _copy.CompleteAsync(cancellationToken);
                await _copy.DisposeAsync();
                _copy = null;
                _kind = null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            // Disposing without completing cancels the COPY: only reached after a fault, and the transaction is rolled back anyway.
            if (_copy is not null)
            {
                await _copy.DisposeAsync();
                _copy = null;
            }
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
