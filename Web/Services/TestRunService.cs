using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;

namespace Web.Services;

/// <summary>One result to record in a run. <see cref="Status"/> is nullable so a missing status is refused, not read as Passed.</summary>
public sealed record ResultInput(long CaseId, TestResultStatus? Status, long? ElapsedMs, string? Comment);

/// <summary>Runs and their results. Recording results is what sets the forecast and notification work in motion.</summary>
internal sealed class TestRunService(TenantDbContext db, JobOutbox outbox, TimeProvider time)
{
    public async Task<TestRun> CreateRunAsync(long projectId, string name, long userId, CancellationToken cancellationToken)
    {
        if (!await db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken))
        {
            throw new NotFoundException($"Project {projectId}");
        }
        var run = new TestRun { ProjectId = projectId, Name = name.Trim(), CreatedById = userId, CreatedAt = time.GetUtcNow() };
        db.TestRuns.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        return run;
    }

    /// <summary>
    /// Records <paramref name="results"/> in one transaction (all or nothing) together with their jobs in the outbox:
    /// <c>update-case-forecast</c> for each affected case and one <c>create-notification</c> for the people
    /// concerned (the run's creator and the tenant's administrators, except whoever recorded the results). The jobs
    /// reach the queue through the relay, so recording succeeds while Valkey is down.
    /// </summary>
    public async Task<IReadOnlyList<TestResult>> RecordResultsAsync(long runId, IReadOnlyList<ResultInput> results, long actorId, string actorName, CancellationToken cancellationToken)
    {
        var run = await db.TestRuns.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId, cancellationToken)
            ?? throw new NotFoundException($"Run {runId}");
        if (results.Count == 0)
        {
            throw new InvalidRequestException("results", "At least one result is required.");
        }
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is null)
            {
                throw new InvalidRequestException($"results[{i}]", "A result is required.");
            }
        }
        var caseIds = results.Select(r => r.CaseId).Distinct().ToList();
        var known = await db.TestCases.Where(c => caseIds.Contains(c.Id) && c.ProjectId == run.ProjectId).Select(c => c.Id).ToListAsync(cancellationToken);
        for (var i = 0; i < results.Count; i++)
        {
            if (!known.Contains(results[i].CaseId))
            {
                throw new InvalidRequestException($"results[{i}].caseId", $"Case {results[i].CaseId} is not a case of this run's project.");
            }
            if (results[i].ElapsedMs is < 0)
            {
                throw new InvalidRequestException($"results[{i}].elapsedMs", "Elapsed time cannot be negative.");
            }
            if (results[i].Status is not { } status)
            {
                throw new InvalidRequestException($"results[{i}].status", "A status is required.");
            }
            if (!Enum.IsDefined(status))
            {
                throw new InvalidRequestException($"results[{i}].status", $"Unknown status '{results[i].Status}'.");
            }
        }

        var now = time.GetUtcNow();
        var rows = results.Select(r => new TestResult
        {
            RunId = runId,
            CaseId = r.CaseId,
            Status = r.Status!.Value,
            ElapsedMs = r.ElapsedMs,
            Comment = string.IsNullOrWhiteSpace(r.Comment) ? null : r.Comment.Trim(),
            ExecutedById = actorId,
            ExecutedAt = now,
        }).ToList();
        db.TestResults.AddRange(rows);
        foreach (var caseId in caseIds)
        {
            outbox.Add(Jobs.UpdateCaseForecast, new UpdateCaseForecastPayload(caseId));
        }
        var recipients = await db.Users
            .Where(u => (u.Id == run.CreatedById || u.IsAdmin) && u.Id != actorId)
            .Select(u => u.Id).ToListAsync(cancellationToken);
        if (recipients.Count > 0)
        {
            var failed = rows.Count(r => r.Status == TestResultStatus.Failed);
            var text = $"{actorName} recorded {rows.Count} result(s) in run '{run.Name}'" + (failed > 0 ? $": {failed} failed." : ".");
            outbox.Add(Jobs.CreateNotification,
                new CreateNotificationPayload(recipients, failed > 0 ? "results-failed" : "results-recorded", text, $"/runs/{runId}"));
        }
        // One SaveChanges: the results and their jobs commit together, or neither does.
        await db.SaveChangesAsync(cancellationToken);
        await outbox.CommittedAsync();
        return rows;
    }
}
