namespace Queue.Server;

/// <summary>
/// Wakes an idle loop without polling. Reset before looking for work, then wait: a wake-up that arrives while
/// looking is not lost, because it completes the task the wait will see.
/// </summary>
internal sealed class WakeSignal
{
    private TaskCompletionSource _current = New();

    public void Set() => Volatile.Read(ref _current).TrySetResult();

    public void Reset()
    {
        var current = Volatile.Read(ref _current);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _current, New(), current);
        }
    }

    /// <summary>
    /// Returns true when set, false after <paramref name="timeout"/> (measured by <paramref name="time"/>); throws on cancellation.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _current).Task;
        if (task.IsCompleted)
        {
            return true;
        }
        try
        {
            await task.WaitAsync(timeout, time, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            // Timer-driven wake-up: due delayed jobs, lease expiries or the safety poll.
            return false;
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
