using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Tests.AppHost;
using Tests.Infrastructure;
using static Tests.EndToEnd.TopologyClient;

namespace Tests.EndToEnd;

/// <summary>The AppHost's own topology with Valkey as a cluster (run mode: local nodes it starts and joins).</summary>
public sealed class ClusterTopologyTests
{
    [Fact]
    public async Task With_a_Valkey_cluster_of_two_masters_and_their_replicas_a_tenants_jobs_run_and_the_row_shows_them()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a"],
            "--AppHost:Valkey:Masters", "2", "--AppHost:Valkey:Replicas", "1", "--AppHost:Valkey:ClusterPort", ClusterRedis.FreeRange(4).ToString(System.Globalization.CultureInfo.InvariantCulture));

        await using (var app = await builder.BuildAsync(cancellationToken))
        {
            await StartAsync(app, ["valkey", "web-tenant-a", "workers"]);
            using var web = app.CreateHttpClient("web-tenant-a");
            await SignInAsync(web, await ParameterAsync(app, "admin-email"), await ParameterAsync(app, "admin-password-tenant-a"));

            await RecordAResultAsync(web);

            var counts = await EventuallyAsync(async () => await ForecastCountsAsync(web) is { } c && (long)c["completed"]! >= 1 ? c : null,
                "the result's forecast job to complete on the cluster");
            Assert.Equal(0L, (long)counts["failed"]!);
        }
        await global::Tests.Infrastructure.Wait.UntilAsync(() => scope.ProcessesMentioningRoot().Count == 0, "the local servers to stop");
    }
}
