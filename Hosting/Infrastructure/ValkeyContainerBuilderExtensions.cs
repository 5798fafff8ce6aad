using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Queue;

namespace Hosting.Infrastructure;

/// <summary>
/// The <c>valkey/valkey</c> container (when a container runtime works, and in every published output). Its start
/// script writes the ACL file of the deployment's users (<see cref="ValkeyAcl"/>) before it starts the server: from the
/// files of a mounted Secret where there are some (<see cref="AclDirectory"/>, the Kubernetes output), else from the
/// users' passwords in its environment (the azd manifest, a local container). Its connection string is the
/// administrator's.
/// </summary>
public sealed class ValkeyContainerResource(string name, ParameterResource password) : ContainerResource(name), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";
    internal const int Port = 6379;

    /// <summary>Where a published deployment mounts the ACL file's parts (one file per Secret), concatenated at start.</summary>
    public const string AclDirectory = "/etc/valkey/acl";

    /// <summary>The environment variable of the administrator's password.</summary>
    public const string AdminPasswordVariable = "VALKEY_ADMIN_PASSWORD";

    private EndpointReference? _primaryEndpoint;

    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>The memory Valkey may use for data before it refuses writes.</summary>
    public string MaxMemory { get; init; } = ValkeyBuilderExtensions.DefaultMaxMemory;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, EndpointName);

    /// <summary><c>host:port,user=admin,password=...</c>: the administrator, for health checks and administration only.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},user={ValkeyAcl.Admin},password={PasswordParameter}");

    /// <summary>The environment variable that carries a user's password to the start script.</summary>
    public static string PasswordVariable(string user) =>
        "VALKEY_PASSWORD_" + new string([.. user.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_')]);
}

internal static class ValkeyContainerBuilderExtensions
{
    public static IResourceBuilder<ValkeyContainerResource> AddValkeyContainer(this IDistributedApplicationBuilder builder, string name)
    {
        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var valkey = new ValkeyContainerResource(name, password)
        {
            MaxMemory = builder.Configuration["AppHost:Valkey:MaxMemory"] ?? ValkeyBuilderExtensions.DefaultMaxMemory,
        };

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(valkey, async (_, cancellationToken) =>
            connectionString = await valkey.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(_ => connectionString ?? throw new InvalidOperationException($"{name}'s connection string is not available yet."), name: healthCheck);

        return builder.AddResource(valkey)
            .WithAnnotation(new ValkeyUsersAnnotation())
            .WithImage(ValkeyBuilderExtensions.Image, ValkeyBuilderExtensions.Tag)
            .WithImageRegistry("docker.io")
            .WithEndpoint(targetPort: ValkeyContainerResource.Port, name: ValkeyContainerResource.EndpointName, scheme: "tcp")
            .WithVolume($"{name}-data", "/data")
            .WithIconName("Database")
            .WithEntrypoint("/bin/sh")
            .WithEnvironment(ValkeyContainerResource.AdminPasswordVariable, password)
            .WithEnvironment(context =>
            {
                foreach (var user in Users(valkey))
                {
                    context.EnvironmentVariables[ValkeyContainerResource.PasswordVariable(user.User)] = user.PasswordParameter;
                }
            })
            .WithArgs(context =>
            {
                // sh -c SCRIPT NAME ARGS...: NAME is the script's $0; ARGS (a cluster's settings, say) reach the server as "$@".
                context.Args.Add("-c");
                context.Args.Add(StartScript(valkey));
                context.Args.Add("valkey");
            })
            .WithHealthCheck(healthCheck);
    }

    private static List<ValkeyUserResource> Users(IResource valkey) =>
        valkey.TryGetLastAnnotation<ValkeyUsersAnnotation>(out var users) ? users.Users : [];

    /// <summary>
    /// Writes the ACL file, then becomes the server: persistence as everywhere (an append-only file fsynced every
    /// second), a memory limit, and refusing writes when full instead of evicting jobs. The ACL file comes from the parts
    /// mounted at <see cref="ValkeyContainerResource.AclDirectory"/> when there are some; else (with
    /// <paramref name="inline"/>) it is written from the users' passwords in the environment. The rules hold no quote,
    /// dollar sign or backslash, so they pass through the shell literally; only the passwords are expanded.
    /// The kubelet updates a mounted Secret in place, so with parts the script keeps watching them: when they change
    /// (a tenant added or removed, a password rotated) it rewrites the file and has the server <c>ACL LOAD</c> it over
    /// a private Unix socket as the administrator; a file the server refuses leaves the previous users in force, and is
    /// tried again at the next change. <c>VALKEY_ACL_DIR</c> and <c>VALKEY_ACL_RELOAD_SECONDS</c> (10) override the
    /// directory and the interval.
    /// </summary>
    internal static string StartScript(ValkeyContainerResource valkey, bool inline = true)
    {
        var lines = new StringBuilder();
        if (inline)
        {
            lines.Append(ValkeyAcl.DefaultUser).Append('\n');
            lines.Append(CultureInfo.InvariantCulture, $"user {ValkeyAcl.Admin} reset on >${{{ValkeyContainerResource.AdminPasswordVariable}}} {ValkeyAcl.Rules(ValkeyAcl.Admin)}\n");
            foreach (var user in Users(valkey))
            {
                lines.Append(CultureInfo.InvariantCulture, $"user {user.User} reset on >${{{ValkeyContainerResource.PasswordVariable(user.User)}}} {ValkeyAcl.Rules(user.User)}\n");
            }
        }
        var fallback = inline
            ? $"""
              cat > "$acl" <<ACL
              {lines}ACL
              """
            : $"echo \"no ACL file parts in {ValkeyContainerResource.AclDirectory}: create the valkey-acl Secrets (secrets.sh apply)\" >&2; exit 1";
        return $$"""
            set -e
            umask 077
            acl=${VALKEY_ACL_FILE:-/tmp/users.acl}
            parts=${VALKEY_ACL_DIR:-{{ValkeyContainerResource.AclDirectory}}}
            socket="$(dirname "$acl")/valkey.sock"
            if [ -d "$parts" ] && ls "$parts"/*.acl >/dev/null 2>&1; then
              cat "$parts"/*.acl > "$acl"
              (
                set +e
                loaded=$(cat "$parts"/*.acl | cksum)
                refused=
                while sleep "${VALKEY_ACL_RELOAD_SECONDS:-10}"; do
                  now=$(cat "$parts"/*.acl 2>/dev/null | cksum)
                  { [ "$now" = "$loaded" ] || [ "$now" = "$refused" ]; } && continue
                  cat "$parts"/*.acl > "$acl.new" && mv "$acl.new" "$acl" || continue
                  # valkey-cli exits 0 on an error reply: the reply itself says whether the file was taken.
                  reply=$(VALKEYCLI_AUTH="${{{ValkeyContainerResource.AdminPasswordVariable}}}" REDISCLI_AUTH="${{{ValkeyContainerResource.AdminPasswordVariable}}}" \
                      valkey-cli -s "$socket" --user {{ValkeyAcl.Admin}} ACL LOAD 2>&1)
                  if [ "$reply" = "OK" ]; then
                    loaded=$now
                    echo "ACL reloaded from $parts"
                  else
                    refused=$now
                    echo "ACL in $parts refused by the server ($reply): the previous users stay in force" >&2
                  fi
                done
              ) &
            else
            {{fallback}}
            fi
            exec valkey-server --aclfile "$acl" --unixsocket "$socket" --unixsocketperm 700 --appendonly yes --appendfsync {{ValkeyBuilderExtensions.AppendFsync}} --maxmemory {{valkey.MaxMemory}} --maxmemory-policy noeviction "$@"
            """;
    }
}
