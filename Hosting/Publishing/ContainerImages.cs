namespace Hosting.Publishing;

/// <summary>
/// The images the manifests name, as <c>dotnet publish &lt;Project&gt; -t:PublishContainer</c> builds them with
/// eng/Containers.props: repository <c>multi-tenant-jobs/&lt;project name in lower case&gt;</c>, the registry and tag
/// given to both (<c>-p:ContainerRegistry</c> / <c>--Kubernetes:ImageRegistry</c>, <c>-p:ContainerImageTag</c> /
/// <c>--Kubernetes:ImageTag</c>).
/// </summary>
public static class ContainerImages
{
    public const string RepositoryPrefix = "multi-tenant-jobs/";

    public static string Repository(ProjectResource project)
    {
        ArgumentNullException.ThrowIfNull(project);
        return RepositoryPrefix + Path.GetFileNameWithoutExtension(project.GetProjectMetadata().ProjectPath).ToLowerInvariant();
    }

    internal static string For(ProjectResource project, KubernetesOptions options) =>
        (string.IsNullOrEmpty(options.ImageRegistry) ? "" : options.ImageRegistry.TrimEnd('/') + "/") + Repository(project) + ":" + options.ImageTag;
}
