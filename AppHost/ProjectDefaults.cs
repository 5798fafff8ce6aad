using Microsoft.Extensions.Configuration;

namespace AppHost;

/// <summary>AppHost-only settings every project of the topology gets.</summary>
internal static class ProjectDefaults
{
    /// <summary>
    /// In run mode the projects run in the AppHost's environment (Development under <c>dotnet run</c>), as launch
    /// profiles would set it: the web app then serves its static files from the build output. Published, they keep
    /// their image's default (Production).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithRunModeEnvironment(this IResourceBuilder<ProjectResource> project)
    {
        var builder = project.ApplicationBuilder;
        if (builder.ExecutionContext.IsRunMode)
        {
            project.WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
                .WithEnvironment("DOTNET_ENVIRONMENT", builder.Environment.EnvironmentName);
            // `./eng/run.sh --DETAILED_LOGS true`: every project logs its SQL, HTTP and connection detail again.
            if (builder.Configuration.GetValue<bool>(Hosting.Topology.TopologyConsoleExtensions.DetailedLogsSetting))
            {
                project.WithEnvironment(Hosting.Topology.TopologyConsoleExtensions.DetailedLogsSetting, "true");
            }
        }
        return project;
    }
}
