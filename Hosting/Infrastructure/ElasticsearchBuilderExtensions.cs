namespace Hosting.Infrastructure;

/// <summary>
/// <c>AddElasticsearchContainer</c>: a single-node Elasticsearch 9 for one tenant, as a container (no Elasticsearch
/// hosting integration is served here, and no Elasticsearch server can run on our machines without containers).
/// Security is off inside the deployment's network; put it behind the platform's own network policy.
/// </summary>
public static class ElasticsearchBuilderExtensions
{
    internal const string Image = "elasticsearch/elasticsearch";
    internal const string Tag = "9.2.1";
    public const string EndpointName = "http";

    public static IResourceBuilder<ContainerResource> AddElasticsearchContainer(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddContainer(name, Image, Tag)
            .WithImageRegistry("docker.elastic.co")
            .WithHttpEndpoint(targetPort: 9200, name: EndpointName)
            .WithEnvironment("discovery.type", "single-node")
            .WithEnvironment("xpack.security.enabled", "false")
            .WithEnvironment("ES_JAVA_OPTS", "-Xms512m -Xmx512m")
            .WithVolume($"{name}-data", "/usr/share/elasticsearch/data")
            .WithHttpHealthCheck("/_cluster/health?wait_for_status=yellow&timeout=1s");
    }

    /// <summary>Whether containers can run for this AppHost (always when published).</summary>
    public static bool CanRunContainers(this IDistributedApplicationBuilder builder) => ContainerRuntime.UseContainers(builder);
}
