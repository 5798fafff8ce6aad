using Aspire.Hosting.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace Hosting.Infrastructure;

/// <summary>Valkey run by this machine's <c>valkey-server</c> (or <c>redis-server</c>, same protocol) when containers cannot run.</summary>
public sealed class ValkeyExecutableResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public ParameterResource PasswordParameter { get; } = password;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, EndpointName);

    /// <summary><c>host:port,password=...</c>, the form StackExchange.Redis (and Aspire's Redis client) reads.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={PasswordParameter}");
}

/// <summary>
/// <c>AddValkey</c>: the shared Valkey, password on and an append-only file fsynced every second. A <c>valkey/valkey</c>
/// container (Aspire's Redis integration) when published or when a container runtime works; otherwise the local server
/// binary with its data in the AppHost's state directory.
/// </summary>
public static class ValkeyBuilderExtensions
{
    internal const string Image = "valkey/valkey";
    internal const string Tag = "8.1";

    /// <summary>
    /// <c>appendfsync</c>: <c>everysec</c> loses at most the last second of acknowledged writes on a power loss (a crash of
    /// the server process alone loses nothing); <c>always</c> loses none but fsyncs every write.
    /// </summary>
    internal const string AppendFsync = "everysec";

    public static IResourceBuilder<IResourceWithConnectionString> AddValkey(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (ContainerRuntime.UseContainers(builder))
        {
            return builder.AddRedis(name)
                .WithImage(Image, Tag)
                .WithImageRegistry("docker.io")
                .WithDataVolume($"{name}-data")
                .WithAppendOnlyFile();
        }

        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var directory = AppHostState.For(builder, name);
        var server = Prerequisites.Find("valkey-server") ?? Prerequisites.Find("redis-server");
        var valkey = new ValkeyExecutableResource(name, server ?? "/bin/sh", directory, password);
        var resource = builder.AddResource(valkey)
            .WithEndpoint(name: ValkeyExecutableResource.EndpointName, scheme: "tcp")
            .WithIconName("Database")
            .ExcludeFromManifest();
        if (server is null)
        {
            return resource.FailsToStart(Prerequisites.Missing("valkey-server and redis-server were", Prerequisites.ValkeyPackage));
        }

        var config = Path.Combine(directory, "valkey.conf");
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(valkey, async (_, cancellationToken) =>
        {
            // The password goes into a file only the AppHost's user can read, not onto a command line every process can see.
            var secret = await password.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"{password.Name} has no value.");
            await File.WriteAllTextAsync(config, $"requirepass \"{secret}\"\n", cancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(valkey, async (_, cancellationToken) =>
            connectionString = await valkey.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(_ => connectionString ?? throw new InvalidOperationException($"{name}'s connection string is not available yet."), name: healthCheck);

        return resource
            .WithArgs(context =>
            {
                context.Args.Add(config);
                context.Args.Add("--port");
                context.Args.Add(valkey.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                foreach (var arg in new[] { "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--appendfsync", AppendFsync, "--save", "" })
                {
                    context.Args.Add(arg);
                }
            })
            .WithHealthCheck(healthCheck);
    }

    /// <summary>Turns on Valkey's append-only file in the container, after the arguments Aspire's Redis integration gives it.</summary>
    private static IResourceBuilder<RedisResource> WithAppendOnlyFile(this IResourceBuilder<RedisResource> builder) =>
        builder.WithArgs(context =>
        {
            string[] aof = ["--appendonly", "yes", "--appendfsync", AppendFsync];
            // Published, the integration runs `/bin/sh -c "<one command line>"`: extend that line. In run mode it passes arguments one by one.
            var shell = context.Args.IndexOf("-c");
            if (shell >= 0 && shell + 1 < context.Args.Count && context.Args[shell + 1] is string line)
            {
                context.Args[shell + 1] = line + " " + string.Join(' ', aof);
            }
            else
            {
                foreach (var arg in aof)
                {
                    context.Args.Add(arg);
                }
            }
        });
}
