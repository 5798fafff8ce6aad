using MailKit;
using MailKit.Net.Smtp;
using Npgsql;
using Queue;

namespace Workers.Infrastructure;

/// <summary>
/// Tells the queue which exceptions of the workers' clients mean a tenant's dependency is unreachable (rule 7), so the
/// job is delayed without using an attempt and the tenant's jobs are held while it lasts. Errors the dependency
/// answers with (a constraint violated, a deadlock, a 550 mailbox) are the job's own and are not classified here.
/// </summary>
internal sealed class TenantDependencyFailures : IDependencyFailureClassifier
{
    /// <summary>SQLSTATEs of a database that is shutting down, starting, full of connections or refusing them.</summary>
    private static readonly HashSet<string> Unreachable =
    [
        PostgresErrorCodes.AdminShutdown, PostgresErrorCodes.CrashShutdown, PostgresErrorCodes.CannotConnectNow,
        PostgresErrorCodes.TooManyConnections, PostgresErrorCodes.ConnectionException, PostgresErrorCodes.ConnectionDoesNotExist,
        PostgresErrorCodes.ConnectionFailure, PostgresErrorCodes.SqlClientUnableToEstablishSqlConnection,
        PostgresErrorCodes.SqlServerRejectedEstablishmentOfSqlConnection,
    ];

    public string? Classify(Exception exception) => exception switch
    {
        PostgresException p when Unreachable.Contains(p.SqlState) => "database",
        // ALTER DATABASE ... ALLOW_CONNECTIONS false: "database "x" is not currently accepting connections".
        PostgresException { SqlState: PostgresErrorCodes.ObjectNotInPrerequisiteState } p
            when p.MessageText.Contains("not currently accepting connections", StringComparison.Ordinal) => "database",
        PostgresException => null,
        // Npgsql's own errors (not the server's) are transient when the socket failed, timed out or was closed.
        NpgsqlException { IsTransient: true } => "database",
        ServiceNotConnectedException or SmtpProtocolException => "smtp",
        _ when exception.GetType().FullName == "Polly.Timeout.TimeoutRejectedException" => "http",
        _ => null,
    };
}
