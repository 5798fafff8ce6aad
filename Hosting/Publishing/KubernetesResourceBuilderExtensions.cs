#pragma warning disable ASPIREPIPELINES001 // The pipeline API is experimental in Aspire 13.6; it is the publishing hook Aspire offers.

using Aspire.Hosting.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Hosting.Publishing;

/// <summary>Publishes the project as a Kubernetes Job (runs to completion) rather than a Deployment.</summary>
public sealed class KubernetesJobAnnotation : IResourceAnnotation;

/// <summary>
/// Kubernetes manifests from Aspire's application model (no Kubernetes integration is served here): a pipeline step
/// <c>publish-kubernetes</c>, run by <c>aspire do publish-kubernetes --output-path DIR</c> or by the AppHost's
/// <c>--publisher kubernetes --output-path DIR</c>.
/// </summary>
public static class KubernetesResourceBuilderExtensions
{
    public const string StepName = "publish-kubernetes";
    public const string PublisherName = "kubernetes";

    public static IResourceBuilder<ProjectResource> PublishAsKubernetesJob(this IResourceBuilder<ProjectResource> builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithAnnotation(new KubernetesJobAnnotation());
    }

    public static IDistributedApplicationBuilder AddKubernetesPublishing(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Pipeline.AddStep(new PipelineStep
        {
            Name = StepName,
            Description = "Writes Kubernetes manifests (Deployments, StatefulSets, Services, Ingresses, a Job, ConfigMaps, Secrets) for the application model.",
            Action = async context =>
            {
                var options = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value;
                var directory = options.OutputPath
                    ?? throw new DistributedApplicationException("The '--output-path DIR' option is required to publish Kubernetes manifests.");
                var writer = new KubernetesManifestWriter(context.ExecutionContext, builder.Configuration["Kubernetes:IngressDomain"] ?? "localhost");
                var files = await writer.WriteAsync(context.Model, Path.GetFullPath(directory), context.CancellationToken);
                context.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Hosting.Publishing.Kubernetes")
                    .LogInformation("Wrote {Count} Kubernetes manifests to {Directory}", files, Path.GetFullPath(directory));
            },
        });
        // Like Aspire's own `--publisher manifest`: `--publisher kubernetes` runs just this step.
        if (string.Equals(builder.Configuration["Publishing:Publisher"], PublisherName, StringComparison.OrdinalIgnoreCase)
            && string.IsNullOrEmpty(builder.Configuration["Pipeline:Step"]))
        {
            builder.Configuration["Pipeline:Step"] = StepName;
        }
        return builder;
    }
}
