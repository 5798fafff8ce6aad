using Tests.Infrastructure;

namespace Tests.Web;

/// <summary>
/// Quiet by default, loud when it matters: a web app configured as the AppHost configures it says what happened (its
/// start, its migrations) and nothing while it idles, although its outbox relay looks for work every 5 s and it answers
/// health probes; <c>DETAILED_LOGS=true</c> brings its SQL statements back.
/// </summary>
public sealed class QuietLogsTests(TestServers servers)
{
    private static readonly (string, string)[] AsTheAppHostRunsIt =
    [
        ("Logging__LogLevel__Default", "Information"),
        ("DATA_PROTECTION_KEY", "a-data-protection-secret-of-48-characters-000000"),
    ];

    /// <summary>Two of the outbox relay's looks and more.</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(11);

    [Fact]
    public async Task An_idle_web_app_writes_nothing_to_its_console_and_no_sql_statement_or_warning_at_start()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "quiet-logs", environment: AsTheAppHostRunsIt);
        var host = own.Web.Host;
        var started = host.Output;
        Assert.Contains("Now listening on", started, StringComparison.Ordinal);

        await ProbeAsync(own.Web, times: 3);
        await Task.Delay(Idle, TestContext.Current.CancellationToken);

        Assert.Equal(started, host.Output);
        Assert.DoesNotContain("Executed DbCommand", started, StringComparison.Ordinal);
        Assert.DoesNotContain(started.Split('\n'), line => line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DETAILED_LOGS_brings_the_sql_statements_of_the_relays_looks_back()
    {
        await using var own = await WebOfItsOwn.StartAsync(servers, "detailed-logs", environment: [.. AsTheAppHostRunsIt, ("DETAILED_LOGS", "true")]);
        var host = own.Web.Host;
        var started = host.Output.Length;

        await Task.Delay(Idle, TestContext.Current.CancellationToken);

        Assert.Contains("FROM job_outbox", host.Output[started..], StringComparison.Ordinal);
    }

    private static async Task ProbeAsync(WebTenant web, int times)
    {
        using var client = web.Anonymous();
        for (var i = 0; i < times; i++)
        {
            using var response = await client.GetAsync(new Uri("/health", UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}");
        }
    }
}
