using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tenancy;

namespace Tests.Tenancy;

/// <summary>Builds configuration the way environment variables would arrive: flat keys, string values.</summary>
internal static class TestConfiguration
{
    public static IConfiguration From(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    public static IConfiguration MultiTenant(params (string Key, string? Value)[] values) =>
        From([("MULTI_TENANT_MODE", "true"), .. values]);
}

internal sealed record LogEntry(LogLevel Level, string Category, string Message, EventId EventId);

/// <summary>Keeps every log entry in memory so tests can assert what operators would read.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger Logger { get; }

    public CapturingLoggerProvider() => Logger = CreateLogger("Tenancy.Tests");

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new LogEntry(logLevel, category, formatter(state, exception), eventId));
    }
}

/// <summary>A fresh directory under the temp path, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tenancy-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A watcher may still be closing its handle; the OS temp cleanup will get it.
        }
    }
}

internal static class StoreFactory
{
    /// <summary>A store with a short debounce so reload tests settle quickly.</summary>
    public static TenantSettingsStore Create(IConfiguration configuration, CapturingLoggerProvider? logs = null) =>
        new(configuration, (logs ?? new CapturingLoggerProvider()).Logger, TimeProvider.System, TimeSpan.FromMilliseconds(50));
}

internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test if it does not within <see cref="Timeout"/>.</summary>
    public static async Task True(Func<bool> condition, string because)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {Timeout.TotalSeconds}s waiting until {because}.");
            }
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
