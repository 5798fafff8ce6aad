using System.Text.RegularExpressions;

namespace Hosting;

/// <summary>The <c>Add*</c> and <c>With*</c> methods, named after Aspire's.</summary>
public static partial class ResourceBuilderExtensions
{
    private const int GeneratedSecretLength = 22;

    /// <summary>Adds a project through its generated <c>Projects.*</c> metadata.</summary>
    public static IResourceBuilder<ProjectResource> AddProject<TProject>(this DistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject(name, new TProject().ProjectPath);

    /// <summary>Adds a project by the path of its <c>.csproj</c> (relative to the AppHost directory), with an <c>http</c> endpoint.</summary>
    public static IResourceBuilder<ProjectResource> AddProject(this DistributedApplicationBuilder builder, string name, string projectPath)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var project = new ProjectResource(name, Path.GetFullPath(projectPath, builder.AppHostDirectory));
        project.Endpoints.Add(new Endpoint("http", "http", 8080));
        return builder.AddResource(project);
    }

    public static IResourceBuilder<ExecutableResource> AddExecutable(this DistributedApplicationBuilder builder, string name, string command, string workingDirectory, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var executable = new ExecutableResource(name, command, Path.GetFullPath(workingDirectory, builder.AppHostDirectory));
        foreach (var arg in args)
        {
            executable.Args.Add(ReferenceExpression.Literal(arg));
        }
        return builder.AddResource(executable);
    }

    public static IResourceBuilder<ContainerResource> AddContainer(this DistributedApplicationBuilder builder, string name, string image, string tag = "latest")
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddResource(new ContainerResource(name, image, tag));
    }

    /// <summary>A parameter read from configuration (<c>Parameters__&lt;name&gt;</c>); missing is an error at build time.</summary>
    public static IResourceBuilder<ParameterResource> AddParameter(this DistributedApplicationBuilder builder, string name, bool secret = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddResource(new ParameterResource(name, secret, null, null));
    }

    /// <summary>A parameter with a default used when configuration does not set it.</summary>
    public static IResourceBuilder<ParameterResource> AddParameter(this DistributedApplicationBuilder builder, string name, string defaultValue, bool secret = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddResource(new ParameterResource(name, secret, defaultValue, null));
    }

    /// <summary>
    /// A secret generated once (letters and digits) and kept in the state directory, unless configuration sets it.
    /// Published as a parameter with a <c>generate</c> default.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddGeneratedParameter(this DistributedApplicationBuilder builder, string name, int length = GeneratedSecretLength)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddResource(new ParameterResource(name, secret: true, null, length));
    }

    /// <summary>Valkey with a password (generated as <c>&lt;name&gt;-password</c> unless given) and a <c>tcp</c> endpoint.</summary>
    public static IResourceBuilder<ValkeyResource> AddValkey(this DistributedApplicationBuilder builder, string name, int? port = null, IResourceBuilder<ParameterResource>? password = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var secret = password?.Resource ?? builder.AddGeneratedParameter($"{name}-password").Resource;
        var valkey = new ValkeyResource(name, secret);
        valkey.Endpoints.Add(new Endpoint("tcp", "tcp", ValkeyResource.DefaultPort) { Port = port });
        valkey.Volumes.Add(new ContainerVolume($"{name}-data", "/data"));
        return builder.AddResource(valkey);
    }

    /// <summary>PostgreSQL with a superuser password (generated as <c>&lt;name&gt;-password</c> unless given).</summary>
    public static IResourceBuilder<PostgresServerResource> AddPostgres(this DistributedApplicationBuilder builder, string name, IResourceBuilder<ParameterResource>? password = null, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var secret = password?.Resource ?? builder.AddGeneratedParameter($"{name}-password").Resource;
        var postgres = new PostgresServerResource(name, secret);
        postgres.Endpoints.Add(new Endpoint("tcp", "tcp", PostgresServerResource.DefaultPort) { Port = port });
        postgres.Volumes.Add(new ContainerVolume($"{name}-data", "/var/lib/postgresql/data"));
        return builder.AddResource(postgres);
    }

    /// <summary>A database created on the server when it first starts.</summary>
    public static IResourceBuilder<PostgresDatabaseResource> AddDatabase(this IResourceBuilder<PostgresServerResource> builder, string name, string? databaseName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var database = new PostgresDatabaseResource(name, SqlIdentifier(databaseName ?? name), builder.Resource);
        builder.Resource.Databases.Add(database);
        return builder.ApplicationBuilder.AddResource(database);
    }

    /// <summary>Makes the database belong to its own login role, whose password is <paramref name="password"/>.</summary>
    public static IResourceBuilder<PostgresDatabaseResource> WithOwner(this IResourceBuilder<PostgresDatabaseResource> builder, string role, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(password);
        builder.Resource.OwnerRole = SqlIdentifier(role);
        builder.Resource.OwnerPassword = password.Resource;
        return builder;
    }

    /// <summary>Development SMTP server (aiosmtpd locally, Mailpit when published) with an <c>smtp</c> endpoint.</summary>
    public static IResourceBuilder<SmtpServerResource> AddSmtpServer(this DistributedApplicationBuilder builder, string name, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var smtp = new SmtpServerResource(name);
        smtp.Endpoints.Add(new Endpoint("smtp", "smtp", 1025) { Port = port });
        return builder.AddResource(smtp);
    }

    /// <summary>Injects <c>ConnectionStrings__&lt;connectionName ?? name&gt;</c> and records the dependency.</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResourceWithConnectionString> source, string? connectionName = null)
        where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(source);
        builder.Resource.SetEnvironment($"ConnectionStrings__{connectionName ?? source.Resource.Name}", new ConnectionStringReference(source.Resource));
        builder.Resource.References.Add(source.Resource);
        return builder;
    }

    /// <summary>Service discovery: injects <c>services__&lt;name&gt;__&lt;endpoint&gt;__0</c> for each of the project's endpoints.</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<ProjectResource> source)
        where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(source);
        foreach (var endpoint in source.Resource.Endpoints)
        {
            builder.Resource.SetEnvironment($"services__{source.Resource.Name}__{endpoint.Name}__0", source.Resource.GetEndpoint(endpoint.Name));
        }
        builder.Resource.References.Add(source.Resource);
        return builder;
    }

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, string value) where T : Resource =>
        builder.WithEnvironment(name, ReferenceExpression.Literal(value));

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, IValueExpression value) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(value);
        builder.Resource.SetEnvironment(name, value);
        return builder;
    }

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, IResourceBuilder<ParameterResource> parameter) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(parameter);
        return builder.WithEnvironment(name, parameter.Resource);
    }

    public static IResourceBuilder<T> WithArgs<T>(this IResourceBuilder<T> builder, params string[] args) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var arg in args)
        {
            builder.Resource.Args.Add(ReferenceExpression.Literal(arg));
        }
        return builder;
    }

    /// <summary>Starts this resource only after <paramref name="dependency"/> is healthy.</summary>
    public static IResourceBuilder<T> WaitFor<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource> dependency) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dependency);
        builder.Resource.Waits.Add(new WaitDependency(dependency.Resource, WaitBehavior.Healthy));
        return builder;
    }

    /// <summary>Starts this resource only after <paramref name="dependency"/> has run to completion with exit code 0.</summary>
    public static IResourceBuilder<T> WaitForCompletion<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource> dependency) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dependency);
        builder.Resource.Waits.Add(new WaitDependency(dependency.Resource, WaitBehavior.Completed));
        return builder;
    }

    /// <summary>Runs <paramref name="replicas"/> instances: separate processes (own ports) locally, Deployment replicas in Kubernetes.</summary>
    public static IResourceBuilder<T> WithReplicas<T>(this IResourceBuilder<T> builder, int replicas) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        builder.Resource.Replicas = replicas;
        return builder;
    }

    /// <summary>Adds (or changes) an HTTP endpoint; <paramref name="env"/> passes the allocated port to an executable.</summary>
    public static IResourceBuilder<T> WithHttpEndpoint<T>(this IResourceBuilder<T> builder, int? port = null, int? targetPort = null, string name = "http", string? env = null) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        var endpoint = builder.Resource.Endpoints.FirstOrDefault(e => e.Name == name);
        if (endpoint is null)
        {
            endpoint = new Endpoint(name, "http", targetPort);
            builder.Resource.Endpoints.Add(endpoint);
        }
        endpoint.Port = port;
        endpoint.TargetPort = targetPort ?? endpoint.TargetPort;
        endpoint.EnvironmentVariable = env;
        return builder;
    }

    /// <summary>Marks every HTTP endpoint as reachable from outside the deployment.</summary>
    public static IResourceBuilder<T> WithExternalHttpEndpoints<T>(this IResourceBuilder<T> builder) where T : Resource
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var endpoint in builder.Resource.Endpoints.Where(e => e.Scheme == "http"))
        {
            endpoint.IsExternal = true;
        }
        return builder;
    }

    /// <summary>Publishes the project to Kubernetes as a Job rather than a Deployment.</summary>
    public static IResourceBuilder<ProjectResource> PublishAsKubernetesJob(this IResourceBuilder<ProjectResource> builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Resource.PublishAsJob = true;
        return builder;
    }

    /// <summary>The command shown when the executable is missing, for example <c>apt-get install -y redis-server</c>.</summary>
    public static IResourceBuilder<ExecutableResource> WithInstallCommand(this IResourceBuilder<ExecutableResource> builder, string installCommand)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Resource.InstallCommand = installCommand;
        return builder;
    }

    public static IResourceBuilder<T> WithVolume<T>(this IResourceBuilder<T> builder, string name, string target) where T : ContainerResource
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Resource.Volumes.Add(new ContainerVolume(name, target));
        return builder;
    }

    private static string SqlIdentifier(string name) =>
        SqlIdentifierRule().IsMatch(name)
            ? name
            : throw new ArgumentException($"Invalid PostgreSQL name '{name}': use lower-case letters, digits and underscores, starting with a letter (at most 63 characters).", nameof(name));

    [GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial Regex SqlIdentifierRule();
}
