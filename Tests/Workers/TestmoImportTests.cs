using System.Globalization;
using System.Text;
using System.Text.Json;
using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Queue;
using Tests.Infrastructure;
using Workers.Infrastructure;

namespace Tests.Workers;

public sealed class TestmoImportTests(TestServers servers)
{
    private const string ValidExport = """
        {
          "version": 2,
          "cases": [
            {"id": 101, "name": "Login works", "description": "Given a user", "tags": ["smoke", {"nested": true}]},
            {"id": 102, "name": "Logout works", "description": null}
          ],
          "runs": [ {"id": 9, "name": "Nightly", "created_at": "2024-05-01T10:00:00+02:00"} ],
          "results": [
            {"case_id": 101, "run_id": 9, "status": "passed", "elapsed": 1.5, "created_at": "2024-05-01T10:05:00Z"},
            {"case_id": 102, "run_id": 9, "status": "FAILED", "comment": "timeout"},
            {"case_id": 101, "run_id": 9, "status": "retest", "elapsed": null}
          ]
        }
        """;

    [Fact]
    public async Task A_valid_export_is_imported_into_a_new_project_with_its_counts_and_the_upload_is_deleted()
    {
        await using var workers = await WorkerHarness.StartAsync(servers, search: null);
        var forecastCase = await SeedCaseWithForecastAsync(workers);
        var importId = await UploadAsync(workers, ValidExport, "nightly-export.json", projectId: null);

        var job = await workers.RunAsync(Jobs.Import, new ImportPayload(importId));

        Assert.Equal(JobState.Completed, job.State);
        await using var db = workers.Context();
        var import = await db.Imports.AsNoTracking().SingleAsync(i => i.Id == importId);
        Assert.Equal(ImportStatus.Completed, import.Status);
        Assert.Equal(100, import.Progress);
        Assert.Equal((2, 1, 3), (import.CasesImported, import.RunsImported, import.ResultsImported));
        Assert.Null(import.UploadOid);
        Assert.Null(import.Error);
        Assert.NotNull(import.FinishedAt);
        var project = await db.Projects.AsNoTracking().SingleAsync(p => p.Id == import.ProjectId);
        Assert.Equal("nightly-export", project.Name);
        var cases = await db.TestCases.AsNoTracking().Where(c => c.ProjectId == project.Id).OrderBy(c => c.Id).ToListAsync();
        Assert.Equal(["testmo:101", "testmo:102"], cases.Select(c => c.ExternalRef));
        Assert.Equal(["Login works", "Logout works"], cases.Select(c => c.Title));
        Assert.Equal("Given a user", cases[0].Description);
        var run = await db.TestRuns.AsNoTracking().SingleAsync(r => r.ProjectId == project.Id);
        Assert.Equal(("Nightly", "testmo:9", new DateTimeOffset(2024, 5, 1, 8, 0, 0, TimeSpan.Zero)), (run.Name, run.ExternalRef, run.CreatedAt));
        var results = await db.TestResults.AsNoTracking().Where(r => r.RunId == run.Id).ToListAsync();
        Assert.Equal([TestResultStatus.Passed, TestResultStatus.Failed, TestResultStatus.Retest], results.Select(r => r.Status).Order());
        results = [.. results.OrderBy(r => r.Status)];
        Assert.Equal(cases[0].Id, results[0].CaseId);
        Assert.Equal(1500, results[0].ElapsedMs);
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 5, 0, TimeSpan.Zero), results[0].ExecutedAt);
        Assert.Equal((cases[1].Id, "timeout"), (results[1].CaseId, results[1].Comment));
        var untouched = await db.TestCases.AsNoTracking().SingleAsync(c => c.Id == forecastCase.Id);
        Assert.Equal((forecastCase.ForecastDurationMs, forecastCase.ForecastComputedAt), (untouched.ForecastDurationMs, untouched.ForecastComputedAt));
        Assert.Equal(0, await LargeObjectCountAsync(workers));
        using var progress = JsonDocument.Parse(job.Progress!);
        Assert.Equal(100, progress.RootElement.GetProperty("percent").GetInt32());
    }

    [Fact]
    public async Task Importing_into_a_project_again_updates_its_cases_and_runs_instead_of_duplicating_them()
    {
        await using var workers = await WorkerHarness.StartAsync(servers, search: null);
        var projectId = await CreateProjectAsync(workers, "Web");
        await workers.RunAsync(Jobs.Import, new ImportPayload(await UploadAsync(workers, ValidExport, "a.json", projectId)));

        var job = await workers.RunAsync(Jobs.Import, new ImportPayload(await UploadAsync(workers, ValidExport.Replace("Login works", "Sign-in works", StringComparison.Ordinal), "b.json", projectId)));

        Assert.Equal(JobState.Completed, job.State);
        await using var db = workers.Context();
        Assert.Equal(["Sign-in works", "Logout works"], await db.TestCases.Where(c => c.ProjectId == projectId).OrderBy(c => c.Id).Select(c => c.Title).ToListAsync());
        Assert.Equal(1, await db.TestRuns.CountAsync(r => r.ProjectId == projectId));
        Assert.Equal(6, await db.TestResults.CountAsync());
        Assert.Equal(1, await db.Projects.CountAsync());
    }

    [Theory]
    [InlineData("""{"cases": [{"id": 1, "name": "a"}], "runs": [{"id": 2, "name": "r"}], "results": [{"case_id": 1, "run_id": 2, "status": "passed"}, {"case_id": 1, "run_id": 2, "status": "pass"}]}""",
        "results[1].status: unknown status 'pass'", 169)]
    [InlineData("""{"cases": [{"id": 1, "name": "a"}], "runs": [{"id": 2, "name": "r"}], "results": [{"case_id": 1, "run_id": 2, "status": "passed"}, {"case_id": 7, "run_id": 2, "status": "passed"}]}""",
        "results[1].case_id: case 7 is neither in the file's cases", 131)]
    [InlineData("""{"cases": [{"id": 1, "name": "a"}], "runs": [{"id": 2, "name": "r"}], "results": [{"case_id": 1, "run_id": 2, "status": "passed"}, {"case_id": 1, "run_id": 99, "status": "passed"}]}""",
        "results[1].run_id: run 99 is neither in the file's runs", 131)]
    [InlineData("""{"cases": [{"id": 1, "name": "a"}, {"name": "b"}]}""", "cases[1].id: is required but missing", null)]
    [InlineData("""{"cases": [{"id": 1, "name": "a\u0000b"}]}""", "cases[0].name: contains a NUL character", 29)]
    [InlineData("{\"cases\": [{\"id\": 1, \"name\": \"a\"},\n {\"id\": 2, \"name\": \"b\"},\n {\"id\": 3 \"name\": \"c\"}]}", "(line 3)", null)]
    [InlineData("""{"cases": [{"id": 1, "name": "a"}], "runs": [""", "the file ends before the JSON is complete", null)]
    public async Task A_malformed_export_fails_the_job_naming_the_fault_and_leaves_nothing_behind(string export, string expected, int? offset)
    {
        await using var workers = await WorkerHarness.StartAsync(servers, search: null);
        var projectId = await CreateProjectAsync(workers, "Web");
        var importId = await UploadAsync(workers, export, "broken.json", projectId);

        var job = await workers.RunAsync(Jobs.Import, new ImportPayload(importId));

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(1, job.Attempts);
        Assert.Contains(expected, job.Error, StringComparison.Ordinal);
        Assert.Contains("Invalid Testmo export at byte ", job.Error, StringComparison.Ordinal);
        if (offset is { } at)
        {
            Assert.Contains($"at byte {at.ToString(CultureInfo.InvariantCulture)} ", job.Error, StringComparison.Ordinal);
        }
        await using var db = workers.Context();
        var import = await db.Imports.AsNoTracking().SingleAsync(i => i.Id == importId);
        Assert.Equal(ImportStatus.Failed, import.Status);
        Assert.Contains(expected, import.Error, StringComparison.Ordinal);
        Assert.Equal((0, 0, 0), (import.CasesImported, import.RunsImported, import.ResultsImported));
        Assert.Equal(0, await db.TestCases.CountAsync());
        Assert.Equal(0, await db.TestRuns.CountAsync());
        Assert.Equal(0, await db.TestResults.CountAsync());
        Assert.Equal(1, await db.Projects.CountAsync());
        Assert.Equal(0, await LargeObjectCountAsync(workers));
    }

    [Fact]
    public async Task An_export_larger_than_the_read_buffer_is_imported_whole()
    {
        await using var workers = await WorkerHarness.StartAsync(servers, search: null);
        var export = GenerateExport(cases: 1500, runs: 40, results: 4000);
        Assert.True(Encoding.UTF8.GetByteCount(export) > 4 * TestmoExportReader.DefaultBufferSize);
        var importId = await UploadAsync(workers, export, "big.json", projectId: null);

        var job = await workers.RunAsync(Jobs.Import, new ImportPayload(importId));

        Assert.Equal(JobState.Completed, job.State);
        await using var db = workers.Context();
        var import = await db.Imports.AsNoTracking().SingleAsync(i => i.Id == importId);
        Assert.Equal((1500, 40, 4000), (import.CasesImported, import.RunsImported, import.ResultsImported));
        Assert.Equal(4000, await db.TestResults.CountAsync());
        Assert.Equal(1500, await db.TestCases.Select(c => c.Title).Distinct().CountAsync());
    }

    [Fact]
    public async Task The_reader_finds_the_same_elements_whatever_the_buffer_size()
    {
        var export = GenerateExport(cases: 30, runs: 3, results: 60);
        var expected = await TestmoExportReader.ReadAllAsync(export, 1 << 20);

        foreach (var size in new[] { 16, 17, 31, 64, 100, 257 })
        {
            var records = await TestmoExportReader.ReadAllAsync(export, size);
            Assert.Equal(expected, records);
        }
        Assert.Equal(93, expected.Count);
        var last = Assert.IsType<TestmoResult>(expected[^1]);
        Assert.Equal(59, last.Index);
        Assert.Equal(export.LastIndexOf("{\"case_id\"", StringComparison.Ordinal), last.Offset);
        Assert.Equal(export[..(int)last.Offset].Count(c => c == '\n') + 1, last.Line);
    }

    [Fact]
    public async Task The_reader_reports_the_same_fault_position_whatever_the_buffer_size()
    {
        var export = GenerateExport(cases: 20, runs: 2, results: 30).Replace("\"status\": \"skipped\"", "\"status\": 5", StringComparison.Ordinal);
        var faults = new List<string>();

        foreach (var size in new[] { 16, 50, 1 << 20 })
        {
            faults.Add((await Assert.ThrowsAsync<TestmoFormatException>(() => TestmoExportReader.ReadAllAsync(export, size))).Message);
        }

        Assert.Single(faults.Distinct());
        var at = export.IndexOf(": 5", StringComparison.Ordinal) + 2;
        Assert.StartsWith($"Invalid Testmo export at byte {at} (line {export[..at].Count(c => c == '\n') + 1}), results[3].status:", faults[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_syntax_error_is_reported_on_its_line_whatever_the_buffer_size()
    {
        var export = GenerateExport(cases: 20, runs: 2, results: 30).Replace("\"run_id\": 2, \"status\": \"blocked\"", "\"run_id\": 2 \"status\": \"blocked\"", StringComparison.Ordinal);
        var line = export[..export.IndexOf("2 \"status\"", StringComparison.Ordinal)].Count(c => c == '\n') + 1;

        foreach (var size in new[] { 16, 50, 1 << 20 })
        {
            var fault = await Assert.ThrowsAsync<TestmoFormatException>(() => TestmoExportReader.ReadAllAsync(export, size));
            Assert.Contains($"(line {line}), results[", fault.Message, StringComparison.Ordinal);
            Assert.Contains("not valid JSON", fault.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Text_that_is_not_valid_UTF8_is_a_fault_naming_its_field()
    {
        var export = Encoding.UTF8.GetBytes("""{"cases": [{"id": 1, "name": "a", "description": "bad: X"}]}""");
        export[Array.IndexOf(export, (byte)'X')] = 0xFF;

        var fault = await Assert.ThrowsAsync<TestmoFormatException>(() => TestmoExportReader.ReadAllAsync(export, 16));

        Assert.Contains("cases[0].description", fault.Message, StringComparison.Ordinal);
    }

    /// <summary>A Testmo-like export; one element per line, results cycling through every status.</summary>
    internal static string GenerateExport(int cases, int runs, int results)
    {
        var statuses = new[] { "passed", "failed", "blocked", "skipped", "retest" };
        var text = new StringBuilder("{\n  \"cases\": [\n");
        for (var i = 0; i < cases; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"    {{\"id\": {1000 + i}, \"name\": \"Case {i} \\u00e9\\\"quoted\\\"\", \"description\": \"{new string('d', i % 50)}\"}}{(i < cases - 1 ? "," : "")}\n");
        }
        text.Append("  ],\n  \"runs\": [\n");
        for (var i = 0; i < runs; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"    {{\"id\": {i + 1}, \"name\": \"Run {i}\", \"created_at\": \"2024-05-01T10:00:00Z\"}}{(i < runs - 1 ? "," : "")}\n");
        }
        text.Append("  ],\n  \"results\": [\n");
        for (var i = 0; i < results; i++)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"    {{\"case_id\": {1000 + (i % cases)}, \"run_id\": {(i % runs) + 1}, \"status\": \"{statuses[i % statuses.Length]}\", \"elapsed\": {i % 7}.25}}{(i < results - 1 ? "," : "")}\n");
        }
        return text.Append("  ]\n}\n").ToString();
    }

    private static Task<long> UploadAsync(WorkerHarness workers, string export, string fileName, long? projectId) =>
        UploadAsync(workers.DataSource, export, fileName, projectId);

    internal static async Task<long> UploadAsync(NpgsqlDataSource dataSource, string export, string fileName, long? projectId)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var (oid, size) = await LargeObjects.WriteAsync(connection, transaction, new MemoryStream(Encoding.UTF8.GetBytes(export)), long.MaxValue, CancellationToken.None);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO imports (file_name, size_bytes, upload_oid, status, progress, project_id, cases_imported, runs_imported, results_imported, created_at)
            VALUES (@name, @size, @oid, 'Pending', 0, @project, 0, 0, 0, now()) RETURNING id
            """, connection, transaction);
        insert.Parameters.AddWithValue("name", fileName);
        insert.Parameters.AddWithValue("size", size);
        insert.Parameters.AddWithValue("oid", (long)oid);
        insert.Parameters.AddWithValue("project", (object?)projectId ?? DBNull.Value);
        var id = (long)(await insert.ExecuteScalarAsync())!;
        await transaction.CommitAsync();
        return id;
    }

    private static async Task<long> CreateProjectAsync(WorkerHarness workers, string name)
    {
        await using var db = workers.Context();
        var project = new Project { Name = name, CreatedAt = DateTimeOffset.UtcNow };
        db.Projects.Add(project);
        await db.SaveChangesAsync();
        return project.Id;
    }

    private static async Task<TestCase> SeedCaseWithForecastAsync(WorkerHarness workers)
    {
        await using var db = workers.Context();
        var project = new Project { Name = "Existing", CreatedAt = DateTimeOffset.UtcNow };
        var testCase = new TestCase { Title = "Existing case", ExternalRef = "testmo:101", ForecastDurationMs = 4200, ForecastComputedAt = new DateTimeOffset(2024, 1, 1, 3, 0, 0, TimeSpan.Zero), CreatedAt = DateTimeOffset.UtcNow };
        project.Cases.Add(testCase);
        db.Projects.Add(project);
        await db.SaveChangesAsync();
        return testCase;
    }

    private static async Task<long> LargeObjectCountAsync(WorkerHarness workers)
    {
        await using var command = workers.DataSource.CreateCommand("SELECT count(*) FROM pg_largeobject_metadata");
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
