using Dashboard.Telemetry;

namespace Tests.Dashboard;

public sealed class MetricQueriesTests
{
    private const ulong Second = 1_000_000_000UL;
    private const ulong Now = 10_000 * Second;

    private static MetricPoint Completed(string instance, ulong startNs, ulong timeNs, double value, bool cumulative = true) =>
        new("workers", instance, "queue.jobs.completed", "{job}", MetricKind.Sum, cumulative, startNs, timeNs, value, 0,
            new Dictionary<string, string> { ["tenant.id"] = "tenant-a" });

    [Fact]
    public void A_cumulative_counter_contributes_its_increase_inside_the_window_and_a_restart_counts_from_zero()
    {
        var window = Now - 60 * Second;
        MetricPoint[] points =
        [
            Completed("w-0", 0, window - Second, 100),      // before the window: the baseline
            Completed("w-0", 0, window + Second, 104),      // +4
            Completed("w-0", 0, window + 2 * Second, 110),  // +6
            Completed("w-0", window + 3 * Second, window + 4 * Second, 2), // the process restarted: +2
        ];

        var increase = MetricQueries.Increases(points, "queue.jobs.completed", window).Sum(i => i.Value);

        Assert.Equal(12, increase);
    }

    [Fact]
    public void Delta_points_inside_the_window_are_summed_and_older_ones_ignored()
    {
        var window = Now - 60 * Second;
        MetricPoint[] points =
        [
            Completed("w-0", window - 2 * Second, window - Second, 50, cumulative: false),
            Completed("w-0", window, window + Second, 3, cumulative: false),
            Completed("w-0", window + Second, window + 2 * Second, 4, cumulative: false),
        ];

        Assert.Equal(7, MetricQueries.Increases(points, "queue.jobs.completed", window).Sum(i => i.Value));
    }

    [Fact]
    public void A_chart_of_a_counter_gives_the_rate_per_minute_per_group_and_bucket()
    {
        MetricPoint[] points =
        [
            Completed("w-0", Now - 100 * Second, Now - 25 * Second, 0),
            Completed("w-0", Now - 100 * Second, Now - 15 * Second, 5),
        ];

        var chart = MetricQueries.Buckets(points, "queue.jobs.completed", "tenant.id", Now, minutes: 1, bucketSeconds: 10);

        var series = Assert.Single(chart.Series);
        Assert.Equal("tenant-a", series.Group);
        Assert.Equal(6, series.Values.Count);
        Assert.Equal(30, series.Values[4]); // 5 jobs in a 10 s bucket
    }
}
