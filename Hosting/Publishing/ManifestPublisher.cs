using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hosting.Publishing;

/// <summary>
/// Writes the Aspire manifest azd reads: <c>project.v0</c>, <c>container.v0</c>, <c>executable.v0</c>,
/// <c>value.v0</c> and <c>parameter.v0</c> resources, <c>{resource.connectionString}</c>-style expressions and
/// paths relative to the manifest file.
/// </summary>
internal static class ManifestPublisher
{
    public const string Schema = "https://json.schemastore.org/aspire-8.0.json";

    public static void Write(IReadOnlyList<IResource> resources, string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        File.WriteAllText(path, Create(resources, directory).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public static JsonObject Create(IReadOnlyList<IResource> resources, string manifestDirectory)
    {
        var entries = new JsonObject();
        foreach (var resource in resources)
        {
            entries[resource.Name] = resource switch
            {
                ParameterResource parameter => Parameter(parameter),
                PostgresDatabaseResource database => new JsonObject
                {
                    ["type"] = "value.v0",
                    ["connectionString"] = database.ConnectionStringExpression.Render(ValueTarget.Manifest),
                },
                ProjectResource project => Project(project, manifestDirectory),
                ExecutableResource executable => Executable(executable, manifestDirectory),
                ContainerResource container => Container(container),
                _ => throw new InvalidOperationException($"Resource '{resource.Name}' ({resource.GetType().Name}) cannot be published."),
            };
        }
        return new JsonObject { ["$schema"] = Schema, ["resources"] = entries };
    }

    private static JsonObject Parameter(ParameterResource parameter)
    {
        var input = new JsonObject { ["type"] = "string", ["secret"] = parameter.IsSecret };
        if (parameter.GenerateLength is { } length)
        {
            input["default"] = new JsonObject { ["generate"] = new JsonObject { ["minLength"] = length, ["special"] = false } };
        }
        else if (parameter.DefaultValue is not null)
        {
            input["default"] = new JsonObject { ["value"] = parameter.DefaultValue };
        }
        return new JsonObject
        {
            ["type"] = "parameter.v0",
            ["value"] = $"{{{parameter.Name}.inputs.value}}",
            ["inputs"] = new JsonObject { ["value"] = input },
        };
    }

    private static JsonObject Project(ProjectResource project, string manifestDirectory)
    {
        var environment = new JsonObject
        {
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EXCEPTION_LOG_ATTRIBUTES"] = "true",
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EVENT_LOG_ATTRIBUTES"] = "true",
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory",
            ["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true",
        };
        if (project.Endpoints.Any(e => e.Name == "http"))
        {
            environment["HTTP_PORTS"] = $"{{{project.Name}.bindings.http.targetPort}}";
        }
        AddEnvironment(environment, project);
        var entry = new JsonObject
        {
            ["type"] = "project.v0",
            ["path"] = Relative(manifestDirectory, project.ProjectPath),
            ["env"] = environment,
            ["bindings"] = Bindings(project, includeTargetPort: false),
        };
        return entry;
    }

    private static JsonObject Executable(ExecutableResource executable, string manifestDirectory)
    {
        var environment = new JsonObject();
        AddEnvironment(environment, executable);
        var entry = new JsonObject
        {
            ["type"] = "executable.v0",
            ["workingDirectory"] = Relative(manifestDirectory, executable.WorkingDirectory),
            ["command"] = executable.Command,
            ["args"] = new JsonArray(executable.Args.Select(a => (JsonNode)a.Render(ValueTarget.Manifest)!).ToArray()),
            ["env"] = environment,
        };
        if (executable.Endpoints.Count > 0)
        {
            entry["bindings"] = Bindings(executable, includeTargetPort: true);
        }
        return entry;
    }

    private static JsonObject Container(ContainerResource container)
    {
        var entry = new JsonObject { ["type"] = "container.v0" };
        if (container is IResourceWithConnectionString withConnectionString)
        {
            entry["connectionString"] = withConnectionString.ConnectionStringExpression.Render(ValueTarget.Manifest);
        }
        entry["image"] = $"{container.Image}:{container.Tag}";
        var args = container switch
        {
            ValkeyResource valkey => ["--requirepass", valkey.Password.Render(ValueTarget.Manifest), "--appendonly", "yes"],
            _ => container.Args.Select(a => a.Render(ValueTarget.Manifest)).ToList(),
        };
        if (args.Count > 0)
        {
            entry["args"] = new JsonArray(args.Select(a => (JsonNode)a!).ToArray());
        }
        if (container.Volumes.Count > 0)
        {
            entry["volumes"] = new JsonArray(container.Volumes.Select(v => (JsonNode)new JsonObject { ["name"] = v.Name, ["target"] = v.Target, ["readOnly"] = false }).ToArray());
        }
        var environment = new JsonObject();
        if (container is PostgresServerResource postgres)
        {
            environment["POSTGRES_HOST_AUTH_METHOD"] = "scram-sha-256";
            environment["POSTGRES_INITDB_ARGS"] = "--auth-host=scram-sha-256 --auth-local=scram-sha-256";
            environment["POSTGRES_USER"] = PostgresServerResource.Superuser;
            environment["POSTGRES_PASSWORD"] = postgres.Password.Render(ValueTarget.Manifest);
        }
        AddEnvironment(environment, container);
        if (environment.Count > 0)
        {
            entry["env"] = environment;
        }
        entry["bindings"] = Bindings(container, includeTargetPort: true);
        return entry;
    }

    private static void AddEnvironment(JsonObject environment, Resource resource)
    {
        foreach (var (name, value) in resource.Environment)
        {
            environment[name] = value.Render(ValueTarget.Manifest);
        }
    }

    private static JsonObject Bindings(Resource resource, bool includeTargetPort)
    {
        var bindings = new JsonObject();
        foreach (var endpoint in resource.Endpoints)
        {
            var http = endpoint.Scheme is "http" or "https";
            var binding = new JsonObject
            {
                ["scheme"] = http ? endpoint.Scheme : "tcp",
                ["protocol"] = "tcp",
                ["transport"] = http ? "http" : "tcp",
            };
            if (includeTargetPort && endpoint.TargetPort is { } target)
            {
                binding["targetPort"] = target;
            }
            if (endpoint.IsExternal)
            {
                binding["external"] = true;
            }
            bindings[endpoint.Name] = binding;
        }
        return bindings;
    }

    private static string Relative(string from, string to) =>
        Path.GetRelativePath(from, to).Replace('\\', '/');
}
