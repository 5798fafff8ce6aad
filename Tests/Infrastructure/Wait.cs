namespace Tests.Infrastructure;

/// <summary>Polling with a generous timeout: how tests wait for what real servers and workers do.</summary>
internal static class Wait
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test after a generous timeout.</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, string what) => UntilAsync(condition, what, Timeout);

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }
            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);

    /// <summary>
    /// Moves a fake clock forward in steps until <paramref name="condition"/> holds: timers registered after an
    /// earlier step still fire, whatever the interleaving with the worker's loops.
    /// </summary>
    public static async Task AdvanceUntilAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, TimeSpan step, Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }
            time.Advance(step);
            await Task.Delay(20);
        }
    }
}
