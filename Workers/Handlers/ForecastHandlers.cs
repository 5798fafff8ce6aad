using Domain.Jobs;
using Npgsql;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>
/// The forecast estimator: a case's expected duration is the median of the elapsed times of its
/// <see cref="RecentResults"/> most recent results that recorded one (any status). The median ignores the odd
/// hung or aborted run that a mean would chase; ten results follow a case that got slower within about a week of
/// daily runs. A case with no timed result keeps no forecast.
/// </summary>
internal static class ForecastSql
{
    public const int RecentResults = 10;

    // One statement for one case or for all: set-based, never one query per case.
    public static string Update(bool oneCase) => $"""
        WITH recent AS (
            SELECT case_id, elapsed_ms,
                   row_number() OVER (PARTITION BY case_id ORDER BY executed_at DESC, id DESC) AS rn
            FROM test_results
            WHERE elapsed_ms IS NOT NULL {(oneCase ? "AND case_id = @case_id" : "")}
        ), estimate AS (
            SELECT case_id, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed_ms))::bigint AS median_ms
            FROM recent WHERE rn <= {RecentResults}
            GROUP BY case_id
        )
        UPDATE test_cases AS c
        SET forecast_duration_ms = e.median_ms, forecast_computed_at = @now
        FROM estimate AS e
        WHERE c.id = e.case_id
        """;
}

/// <summary><c>update-case-forecast</c>: recomputes one case's forecast.</summary>
public sealed class UpdateCaseForecastHandler(JobDatabase database, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<UpdateCaseForecastPayload>();
        await database.ContextAsync(cancellationToken);
        await using var command = database.DataSource.CreateCommand(ForecastSql.Update(oneCase: true));
        command.Parameters.AddWithValue("case_id", payload.CaseId);
        command.Parameters.AddWithValue("now", time.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary><c>update-all-cases-forecast</c>: recomputes every case's forecast in one statement.</summary>
public sealed class UpdateAllCasesForecastHandler(JobDatabase database, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        await database.ContextAsync(cancellationToken);
        await using var command = database.DataSource.CreateCommand(ForecastSql.Update(oneCase: false));
        command.Parameters.AddWithValue("now", time.GetUtcNow());
        var updated = await command.ExecuteNonQueryAsync(cancellationToken);
        await context.ReportProgressAsync(new { updated });
    }
}
