namespace Hosting;

/// <summary>Valkey with a password. Run mode: a container if a runtime works, else <c>valkey-server</c>/<c>redis-server</c>.</summary>
public sealed class ValkeyResource(string name, ParameterResource password) : ContainerResource(name, "docker.io/valkey/valkey", "8.1"), IResourceWithConnectionString
{
    public const int DefaultPort = 6379;

    public ParameterResource Password { get; } = password;

    public EndpointReference PrimaryEndpoint => GetEndpoint("tcp");

    /// <summary><c>host:port,password=...</c>, the form StackExchange.Redis reads.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{PrimaryEndpoint.Property(EndpointProperty.Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)},password={Password}");
}

/// <summary>
/// A PostgreSQL server. Run mode: a container if a runtime works, else a local cluster in the state
/// directory (initdb once, run as the <c>postgres</c> user when the AppHost is root). Its databases and their
/// owner roles are created when it first answers queries; it is healthy only after that.
/// </summary>
public sealed class PostgresServerResource(string name, ParameterResource password) : ContainerResource(name, "docker.io/library/postgres", "17.5"), IResourceWithConnectionString
{
    public const int DefaultPort = 5432;
    public const string Superuser = "postgres";

    public ParameterResource Password { get; } = password;

    public EndpointReference PrimaryEndpoint => GetEndpoint("tcp");

    public IList<PostgresDatabaseResource> Databases { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={Superuser};Password={Password}");
}

/// <summary>
/// A database on a <see cref="PostgresServerResource"/>. With an owner (<c>WithOwner</c>) the database belongs to
/// its own login role, its connection string uses that role, and no other role may connect to it.
/// </summary>
public sealed class PostgresDatabaseResource(string name, string databaseName, PostgresServerResource parent) : IResourceWithConnectionString, IResourceWithParent
{
    public string Name { get; } = name;

    public string DatabaseName { get; } = databaseName;

    public PostgresServerResource Server { get; } = parent;

    IResource IResourceWithParent.Parent => Server;

    public string? OwnerRole { get; internal set; }

    public ParameterResource? OwnerPassword { get; internal set; }

    public ReferenceExpression ConnectionStringExpression => OwnerRole is null || OwnerPassword is null
        ? ReferenceExpression.Create($"{new ConnectionStringReference(Server)};Database={DatabaseName}")
        : ReferenceExpression.Create(
            $"Host={Server.PrimaryEndpoint.Property(EndpointProperty.Host)};Port={Server.PrimaryEndpoint.Property(EndpointProperty.Port)};Username={OwnerRole};Password={OwnerPassword};Database={DatabaseName}");

    /// <summary><c>postgresql://user:password@host:port/database</c>, the form of <c>DATABASE_URL</c>.</summary>
    public ReferenceExpression UriExpression => ReferenceExpression.Create(
        $"postgresql://{OwnerRole ?? PostgresServerResource.Superuser}:{(IValueExpression?)OwnerPassword ?? Server.Password}@{Server.PrimaryEndpoint.Property(EndpointProperty.Host)}:{Server.PrimaryEndpoint.Property(EndpointProperty.Port)}/{DatabaseName}");
}

/// <summary>
/// An SMTP server for development mail. Run mode: aiosmtpd (python3-aiosmtpd) writing every message to a
/// maildir in the state directory; published as a Mailpit container.
/// </summary>
public sealed class SmtpServerResource(string name) : ContainerResource(name, "docker.io/axllent/mailpit", "v1.27"), IResourceWithConnectionString
{
    public EndpointReference SmtpEndpoint => GetEndpoint("smtp");

    /// <summary><c>smtp://host:port</c>.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"smtp://{SmtpEndpoint.Property(EndpointProperty.Host)}:{SmtpEndpoint.Property(EndpointProperty.Port)}");
}
