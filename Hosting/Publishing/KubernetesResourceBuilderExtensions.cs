#pragma warning disable ASPIREPIPELINES001 // The pipeline API is experimental in Aspire 13.6; it is the publishing hook Aspire offers.

using Aspire.Hosting.Pipelines;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Hosting.Publishing;

/// <summary>
/// Kubernetes manifests from Aspire's application model (no Kubernetes integration is served here): a pipeline step
/// <c>publish-kubernetes</c>, run by <c>aspire do publish-kubernetes --output-path DIR</c> or by the AppHost's
/// <c>--publisher kubernetes --output-path DIR</c>, with the settings of <see cref="KubernetesOptions"/> (<c>--Kubernetes:*</c>).
/// </summary>
public static class KubernetesResourceBuilderExtensions
{
    public const string StepName = "publish-kubernetes";
    public const string PublisherName = "kubernetes";

    /// <summary>Whether this run publishes Kubernetes manifests (so the model can leave out what only other targets need).</summary>
    public static bool IsActive(IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ExecutionContext.IsPublishMode
            && (string.Equals(builder.Configuration["Publishing:Publisher"], PublisherName, StringComparison.OrdinalIgnoreCase)
                || string.Equals(builder.Configuration["Pipeline:Step"], StepName, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The settings of the Kubernetes output (<c>--Kubernetes:*</c>).</summary>
    public static KubernetesOptions Options(IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Configuration.GetSection(KubernetesOptions.Section).Get<KubernetesOptions>() ?? new KubernetesOptions();
    }

    /// <summary>
    /// When this run publishes Kubernetes manifests: every problem with <c>--Kubernetes:*</c> in one message, to stop on
    /// before anything is built; otherwise null.
    /// </summary>
    public static string? SettingsProblem(IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!IsActive(builder))
        {
            return null;
        }
        var problems = Options(builder).Problems();
        return problems.Count == 0 ? null : "Invalid Kubernetes settings: " + string.Join(" ", problems);
    }

    public static IResourceBuilder<ProjectResource> PublishAsKubernetesJob(this IResourceBuilder<ProjectResource> builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithAnnotation(new KubernetesJobAnnotation());
    }

    /// <summary>
    /// Starts <paramref name="builder"/> only once <paramref name="provisioning"/> has finished (run mode); published,
    /// its pods wait in an init container until their database exists.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WaitForProvisioning(this IResourceBuilder<ProjectResource> builder, IResourceBuilder<ProjectResource> provisioning)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(provisioning);
        return builder.WaitForCompletion(provisioning).WithAnnotation(new DatabaseWaitAnnotation(provisioning.Resource));
    }

    /// <summary>Published, KEDA scales the project's Deployment on the jobs waiting per queue (its GET /metrics/backlog).</summary>
    public static IResourceBuilder<ProjectResource> PublishScaledOnBacklog(this IResourceBuilder<ProjectResource> builder, IReadOnlyList<string> queues)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithAnnotation(new BacklogScalingAnnotation(queues));
    }

    /// <summary>Published, the project may reach any address on <paramref name="port"/> (its NetworkPolicy says so, and why).</summary>
    public static IResourceBuilder<ProjectResource> WithExternalEgress(this IResourceBuilder<ProjectResource> builder, int port, string purpose)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithAnnotation(new ExternalEgressAnnotation(port, purpose), ResourceAnnotationMutationBehavior.Append);
    }

    public static IDistributedApplicationBuilder AddKubernetesPublishing(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = Options(builder);
        builder.Pipeline.AddStep(new PipelineStep
        {
            Name = StepName,
            Description = "Writes Kubernetes manifests (Deployments, StatefulSets, Jobs, Services, Ingresses, ConfigMaps, NetworkPolicies, PodDisruptionBudgets, a KEDA ScaledObject) and the keys of their Secrets.",
            Action = async context =>
            {
                var pipeline = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value;
                var directory = Path.GetFullPath(pipeline.OutputPath
                    ?? throw new DistributedApplicationException("The '--output-path DIR' option is required to publish Kubernetes manifests."));
                var logger = context.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Hosting.Publishing.Kubernetes");
                var writer = new KubernetesManifestWriter(context.ExecutionContext, options, logger);
                var files = await writer.WriteAsync(context.Model, directory, context.CancellationToken);
                logger.LogInformation("Wrote {Count} files to {Directory}: the Secrets' keys are in secrets/secrets.env.example, no value of any secret", files.Count, directory);
                writer.LogGaps();
                if (options.IncludeSecretValues)
                {
                    // Asked for explicitly; said so where nobody can miss it.
                    var warning = $"""

                        ************************************************************************************************
                        WARNING: {Path.Combine(directory, "secrets", "secrets.env")} holds the SECRET VALUES of this machine's
                        AppHost parameters (--Kubernetes:IncludeSecretValues). For a throwaway cluster only: never commit it,
                        never use these values in production. Delete the file once the Secrets are created.
                        ************************************************************************************************

                        """;
                    logger.LogWarning("{Warning}", warning);
                    await Console.Error.WriteLineAsync(warning);
                }
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
