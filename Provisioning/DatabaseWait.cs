using Microsoft.Extensions.Logging;
using Npgsql;

namespace Provisioning;

/// <summary>
/// <c>wait</c>: blocks until a tenant's own role can connect to its database, i.e. until <c>tenant-provisioning</c> has
/// created them. The init container of a tenant's web app runs it, so the web app neither starts nor serves before its
/// database exists (it then migrates and checks the tenant marker itself before it serves).
/// </summary>
public sealed partial class DatabaseWait(string connectionString, ILogger<DatabaseWait> logger, TimeProvider time)
{
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a still-waiting line is logged.</summary>
    public TimeSpan ReportEvery { get; init; } = TimeSpan.FromSeconds(30);

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 5 };
        var started = time.GetUtcNow();
        var reported = DateTimeOffset.MinValue;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                await connection.OpenAsync(cancellationToken);
                Log.Ready(logger, builder.Database ?? "?", builder.Username ?? "?", (time.GetUtcNow() - started).TotalSeconds);
                return;
            }
            catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
            {
                if (time.GetUtcNow() - reported >= ReportEvery)
                {
                    reported = time.GetUtcNow();
                    Log.Waiting(logger, builder.Database ?? "?", builder.Username ?? "?", e.Message);
                }
                await Task.Delay(Interval, time, cancellationToken);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Waiting for database {Database} (role {Role}) to be provisioned: {Reason}")]
        public static partial void Waiting(ILogger logger, string database, string role, string reason);

        [LoggerMessage(2, LogLevel.Information, "Database {Database} answers role {Role} after {Seconds:0.0} s")]
        public static partial void Ready(ILogger logger, string database, string role, double seconds);
    }
}
