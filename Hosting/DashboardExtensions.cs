namespace Hosting;

/// <summary>
/// The Dashboard as a resource, as Aspire's AppHost starts its dashboard: a project started before every other
/// project (each waits for it), which every project exports its telemetry to, with generated secrets for the
/// OTLP API key, the browser login token and the AppHost's resource API. Endpoints: <c>http</c> (UI, OTLP/HTTP) and
/// <c>otlp-grpc</c> (OTLP/gRPC). Not published: publishers skip it.
/// </summary>
public static class DashboardExtensions
{
    /// <summary>Adds the Dashboard project. Call it once, first.</summary>
    public static IResourceBuilder<ProjectResource> AddDashboard<TProject>(this DistributedApplicationBuilder builder, string name = "dashboard")
        where TProject : IProjectMetadata, new()
    {
        ArgumentNullException.ThrowIfNull(builder);
        var project = new ProjectResource(name, new TProject().ProjectPath);
        project.Endpoints.Add(new Endpoint("http", "http", 8080));
        project.Endpoints.Add(new Endpoint("otlp-grpc", "http", 4317));
        if (builder.IsPublishMode)
        {
            // Aspire's dashboard is a run-mode tool: nothing in the manifests.
            return new ResourceBuilder<ProjectResource>(project, builder);
        }
        var otlpApiKey = builder.AddGeneratedParameter($"{name}-otlp-api-key");
        var loginToken = builder.AddGeneratedParameter($"{name}-login-token");
        var resourceApiKey = builder.AddGeneratedParameter($"{name}-resource-api-key");
        // Two Kestrel endpoints: the UI and OTLP/HTTP on HTTP/1.1, OTLP/gRPC on HTTP/2 (cleartext needs its own port).
        var dashboard = builder.AddResource(project)
            .WithEnvironment("Kestrel__Endpoints__Http__Url", project.GetEndpoint("http"))
            .WithEnvironment("Kestrel__Endpoints__OtlpGrpc__Url", project.GetEndpoint("otlp-grpc"))
            .WithEnvironment("Kestrel__Endpoints__OtlpGrpc__Protocols", "Http2")
            .WithEnvironment("Dashboard__OtlpApiKey", otlpApiKey)
            .WithEnvironment("Dashboard__LoginToken", loginToken)
            .WithEnvironment("Dashboard__ResourceServiceUrl", new ResourceServiceUrl(builder))
            .WithEnvironment("Dashboard__ResourceServiceApiKey", resourceApiKey);
        builder.Dashboard = new DashboardResource(project, otlpApiKey.Resource, loginToken.Resource, resourceApiKey.Resource);
        return dashboard;
    }
}

/// <summary>The Dashboard of a run and its secrets.</summary>
internal sealed record DashboardResource(ProjectResource Project, ParameterResource OtlpApiKey, ParameterResource LoginToken, ParameterResource ResourceApiKey)
{
    public string Url => Project.GetEndpoint().Render(ValueTarget.Run);

    public string LoginUrl => $"{Url}/login?t={Uri.EscapeDataString(LoginToken.Render(ValueTarget.Run))}";
}

/// <summary>The AppHost's resource API URL, known once the AppHost has started it (before any resource starts).</summary>
internal sealed class ResourceServiceUrl(DistributedApplicationBuilder builder) : IValueExpression
{
    public bool IsSecret => false;

    public string Render(ValueTarget target) => target == ValueTarget.Run
        ? builder.ResourceServiceUrl?.ToString() ?? throw new InvalidOperationException("The resource API has not started yet.")
        : string.Empty;
}
