using System.Diagnostics;
using System.Net.Http.Json;
using Tests.Infrastructure;
using Tests.Otlp;
using OtlpSpanKind = OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind;

namespace Tests.Web;

/// <summary>
/// What runs by itself, again and again, leaves no trace: the dashboard's trace list is for what users did. The web
/// app's health probes (with the work they do) and the outbox relay's idle looks used to draw a root trace each, and
/// every page view drew one more for its stylesheet.
/// </summary>
public sealed class QuietTracesTests(TestServers servers)
{
    [Fact]
    public async Task Health_probes_and_the_database_check_they_run_leave_no_traces()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var otlp = await OtlpReceiver.StartAsync(cancellationToken);
        await using var own = await WebOfItsOwn.StartAsync(servers, "quiet-probes", environment: Exporting(otlp));
        var web = own.Web;

        // As the AppHost probes: from inside a trace of its own, so the request carries a sampled traceparent.
        using var anonymous = web.Anonymous();
        for (var i = 0; i < 3; i++)
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, new Uri("/health", UriKind.Relative));
            probe.Headers.Add("traceparent", $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var health = await anonymous.SendAsync(probe, cancellationToken);
            Assert.True(health.IsSuccessStatusCode, $"{(int)health.StatusCode}");
        }
        // A request of a user afterwards: once its span is in, the exporter has sent everything before it.
        using var admin = await web.AdminAsync();
        await admin.CreateProjectAsync();
        await Wait.UntilAsync(() => otlp.Spans.Any(s => s.Name.Contains("projects", StringComparison.Ordinal)), "the user's request span arrives");

        var probes = otlp.Spans.Where(s => s.Attribute("db.query.text") == "SELECT 1" || s.Attribute("url.path") is "/health" or "/alive").ToList();
        Assert.True(probes.Count == 0, string.Join("\n", probes.Select(s => s.Describe())));
        Assert.Contains(otlp.Spans, s => s.Attribute("db.query.text") is { } sql && sql.Contains("INSERT INTO projects", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pages_stylesheet_leaves_no_trace()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var otlp = await OtlpReceiver.StartAsync(cancellationToken);
        await using var own = await WebOfItsOwn.StartAsync(servers, "quiet-static", environment: Exporting(otlp));
        var web = own.Web;

        using var anonymous = web.Anonymous();
        using (var stylesheet = await anonymous.GetAsync(new Uri("/site.css", UriKind.Relative), cancellationToken))
        {
            Assert.True(stylesheet.IsSuccessStatusCode, $"{(int)stylesheet.StatusCode}");
        }
        using var admin = await web.AdminAsync();
        await admin.CreateProjectAsync();
        await Wait.UntilAsync(() => otlp.Spans.Any(s => s.Name.Contains("projects", StringComparison.Ordinal)), "the user's request span arrives");

        var files = otlp.Spans.Where(s => s.Attribute("url.path") is { } path && path.EndsWith(".css", StringComparison.Ordinal)).ToList();
        Assert.True(files.Count == 0, string.Join("\n", files.Select(s => s.Describe())));
    }

    /// <summary>
    /// The background relay looks for rows every 5 s; those looks are not traced (two root spans per look per replica
    /// would bury the traces that matter in the dashboard), while a batch it does relay is, as one trace.
    /// </summary>
    [Fact]
    public async Task The_background_relays_idle_looks_leave_no_traces_and_a_batch_it_relays_is_one_trace()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var otlp = await OtlpReceiver.StartAsync(cancellationToken);
        await using var own = await WebOfItsOwn.StartAsync(servers, "outbox-quiet", environment: Exporting(otlp));
        var (web, valkey) = (own.Web, own.Valkey);
        using var admin = await web.AdminAsync();
        var (run, testCase) = await admin.CreateRunOfOneCaseAsync();
        await Wait.UntilAsync(() => otlp.Spans.Any(s => s.Name.Contains("runs", StringComparison.Ordinal)), "the web app's spans arrive");

        // Two polls and more with nothing to relay: no span at all mentions the outbox.
        var before = otlp.Spans.Count;
        await Task.Delay(TimeSpan.FromSeconds(11), cancellationToken);
        var idle = otlp.Spans.Skip(before).Where(s => s.Attributes.Values.Any(v => v.Contains("job_outbox", StringComparison.Ordinal))).ToList();
        Assert.True(idle.Count == 0, string.Join("\n", idle.Select(s => s.Describe())));

        // Valkey away during a post: the background relay delivers its jobs, under one span of its own.
        await valkey.KillAsync();
        using (var response = await admin.PostAsJsonAsync(new Uri($"/api/runs/{run}/results", UriKind.Relative),
            new { results = new[] { new { caseId = testCase, status = "Passed" } } }, cancellationToken))
        {
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}");
        }
        await valkey.RestartAsync();
        await Wait.UntilAsync(async () => await web.ScalarAsync("SELECT count(*) FROM job_outbox") == 0, "the outbox is relayed");
        SpanRecord? Relay() => otlp.Spans.FirstOrDefault(s => s.Name == "outbox relay" && s.Attribute("outbox.relayed") is not (null or "0"));
        await Wait.UntilAsync(() => Relay() is not null, "the relay's span arrives");
        var relay = Relay()!;
        var enqueues = otlp.Spans.Where(s => s.TraceId == relay.TraceId && s.Kind == nameof(OtlpSpanKind.Producer)).ToList();
        Assert.NotEmpty(enqueues);
        Assert.All(enqueues, s => Assert.Equal(relay.SpanId, s.ParentSpanId));
    }

    private static (string, string)[] Exporting(OtlpReceiver otlp) =>
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.Endpoint.ToString().TrimEnd('/')),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        // As the AppHost sets it in run mode: every span is recorded, also under a parent that was not (a filtered probe).
        ("OTEL_TRACES_SAMPLER", "always_on"),
    ];
}
