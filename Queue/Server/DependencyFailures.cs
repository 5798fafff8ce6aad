using System.Net.Http;
using System.Net.Sockets;

namespace Queue;

/// <summary>
/// Recognises exceptions that say one of a tenant's dependencies is unreachable (as opposed to a job that is wrong).
/// The engine asks every registered classifier about the exception and each of its inner exceptions, outermost
/// first; the first answer wins. Register with <c>services.AddSingleton&lt;IDependencyFailureClassifier, ...&gt;()</c>;
/// the engine itself knows <see cref="DependencyUnavailableException"/>, socket errors and HTTP connection failures.
/// Implementations must be thread-safe and cheap.
/// </summary>
public interface IDependencyFailureClassifier
{
    /// <summary>The dependency <paramref name="exception"/> shows unreachable (<c>database</c>, <c>smtp</c>, ...), or null.</summary>
    string? Classify(Exception exception);
}

/// <summary>
/// Thrown by a handler when a dependency of the job's tenant does not answer: the job goes back delayed without using
/// an attempt, and repeated failures hold the tenant's jobs until a probe gets through.
/// </summary>
public sealed class DependencyUnavailableException : Exception
{
    public DependencyUnavailableException()
    {
    }

    public DependencyUnavailableException(string message) : base(message)
    {
    }

    public DependencyUnavailableException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public DependencyUnavailableException(string dependency, string message, Exception? innerException = null) : base(message, innerException) =>
        Dependency = dependency;

    /// <summary>The unreachable dependency, e.g. <c>smtp</c>.</summary>
    public string Dependency { get; } = "dependency";
}

/// <summary>What the engine concludes from a handler's exception.</summary>
internal static class DependencyFailures
{
    private static readonly HashSet<SocketError> Unreachable =
    [
        SocketError.ConnectionRefused, SocketError.ConnectionReset, SocketError.ConnectionAborted, SocketError.TimedOut,
        SocketError.HostUnreachable, SocketError.NetworkUnreachable, SocketError.HostDown, SocketError.NetworkDown,
        SocketError.NetworkReset, SocketError.TryAgain, SocketError.Shutdown, SocketError.NotConnected,
    ];

    /// <summary>The dependency an exception chain shows unreachable, or null. A permanent failure is never one.</summary>
    public static string? Classify(Exception exception, IReadOnlyList<IDependencyFailureClassifier> classifiers)
    {
        if (exception is PermanentJobFailureException)
        {
            return null;
        }
        foreach (var e in Chain(exception))
        {
            foreach (var classifier in classifiers)
            {
                if (classifier.Classify(e) is { } dependency)
                {
                    return dependency;
                }
            }
            switch (e)
            {
                case DependencyUnavailableException d:
                    return d.Dependency;
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }:
                    return "http";
                case TaskCanceledException { InnerException: TimeoutException }:
                    // HttpClient's own timeout; cancellation of the job itself is handled before classification.
                    return "http";
                case SocketException s when Unreachable.Contains(s.SocketErrorCode):
                    return "network";
            }
        }
        return null;
    }

    /// <summary>
    /// The text to record for a failure: the handler's own words for the exceptions it throws on purpose, otherwise
    /// the innermost exception's (the root cause), so a wrapper's generic text never hides it.
    /// </summary>
    public static string Describe(Exception exception)
    {
        if (exception is PermanentJobFailureException or JobRetryAfterException or DependencyUnavailableException || exception.InnerException is null)
        {
            return exception.Message;
        }
        var root = Chain(exception).Last();
        return exception.Message.Contains(root.Message, StringComparison.Ordinal)
            ? exception.Message
            : $"{root.GetType().Name}: {root.Message} (via {exception.GetType().Name}: {exception.Message})";
    }

    /// <summary>The exception and its inner exceptions, outermost first (the first of an aggregate's, which is its own inner).</summary>
    private static IEnumerable<Exception> Chain(Exception exception)
    {
        for (var (e, depth) = (exception, 0); e is not null && depth < 16; (e, depth) = (e.InnerException, depth + 1))
        {
            yield return e;
        }
    }
}
