using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tests.Hosting;

/// <summary><c>--publisher manifest</c> writes the Aspire manifest azd reads.</summary>
public sealed partial class ManifestPublishingTests
{
    private static readonly string[] KnownTypes = ["project.v0", "container.v0", "value.v0", "parameter.v0", "executable.v0"];

    [Fact]
    public async Task Manifest_is_valid_json_with_every_resource_and_an_aspire_type_each()
    {
        using var scope = AppHostScope.Create();
        var (manifest, names) = await PublishAsync(scope);

        Assert.Equal("https://json.schemastore.org/aspire-8.0.json", (string?)manifest["$schema"]);
        var resources = manifest["resources"]!.AsObject();
        Assert.Equal(names.Order(), resources.Select(r => r.Key).Order());
        Assert.All(resources, r => Assert.Contains((string?)r.Value!["type"], KnownTypes));
        Assert.Equal("container.v0", (string?)resources["valkey"]!["type"]);
        Assert.Equal("value.v0", (string?)resources["db-tenant-a"]!["type"]);
        Assert.Equal("parameter.v0", (string?)resources["signing-key-tenant-a"]!["type"]);
        Assert.True((bool)resources["valkey-password"]!["inputs"]!["value"]!["secret"]!);
    }

    [Fact]
    public async Task Projects_get_connection_string_expressions_and_paths_relative_to_the_manifest()
    {
        using var scope = AppHostScope.Create();
        var (manifest, _) = await PublishAsync(scope);
        var web = manifest["resources"]!["web-tenant-a"]!;
        var env = web["env"]!;

        Assert.Equal("project.v0", (string?)web["type"]);
        Assert.True(File.Exists(Path.GetFullPath((string)web["path"]!, scope.Root)));
        Assert.Equal("{db-tenant-a.connectionString}", (string?)env["ConnectionStrings__db"]);
        Assert.Equal("{valkey.connectionString}", (string?)env["ConnectionStrings__valkey"]);
        Assert.Equal("tenant-a", (string?)env["INSTANCE_TENANT_ID"]);
        Assert.Equal("{signing-key-tenant-a.value}", (string?)env["TENANT_TENANT_A_SIGNING_KEY"]);
        Assert.Equal("http", (string?)web["bindings"]!["http"]!["scheme"]);
        Assert.Equal("tcp", (string?)manifest["resources"]!["valkey"]!["bindings"]!["tcp"]!["transport"]);
        Assert.Equal("{valkey.bindings.tcp.host}:{valkey.bindings.tcp.port},password={valkey-password.value}",
            (string?)manifest["resources"]!["valkey"]!["connectionString"]);
        Assert.Equal("true", (string?)manifest["resources"]!["workers"]!["env"]!["MULTI_TENANT_MODE"]);
    }

    [Fact]
    public async Task Every_expression_names_a_declared_resource_and_no_secret_value_is_written()
    {
        using var scope = AppHostScope.Create();
        var (manifest, names) = await PublishAsync(scope);
        var text = manifest.ToJsonString();

        var referenced = Expression().Matches(text.Replace("{{", string.Empty, StringComparison.Ordinal)).Select(m => m.Groups["resource"].Value).Distinct().ToList();
        Assert.NotEmpty(referenced);
        Assert.All(referenced, name => Assert.Contains(name, names));
        Assert.All(scope.StoredParameters().Values, secret => Assert.DoesNotContain(secret, text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Publishing_works_with_a_double_dash_before_the_arguments()
    {
        using var scope = AppHostScope.Create();
        var output = Path.Combine(scope.Root, "dashed", "aspire-manifest.json");
        var builder = await scope.BuilderAsync(["tenant-a"], "--", "--publisher", "manifest", "--output-path", output);
        await using var app = builder.Build();

        await app.RunAsync(TestContext.Current.CancellationToken);

        Assert.NotNull(JsonNode.Parse(await File.ReadAllTextAsync(output, TestContext.Current.CancellationToken))!["resources"]!["web-tenant-a"]);
    }

    private static async Task<(JsonNode Manifest, List<string> Names)> PublishAsync(AppHostScope scope)
    {
        var output = Path.Combine(scope.Root, "aspire-manifest.json");
        var builder = await scope.BuilderAsync(["tenant-a", "tenant-b"], "--publisher", "manifest", "--output-path", output);
        await using var app = builder.Build();
        await app.RunAsync(TestContext.Current.CancellationToken);
        return (JsonNode.Parse(await File.ReadAllTextAsync(output, TestContext.Current.CancellationToken))!, builder.Resources.Select(r => r.Name).ToList());
    }

    [GeneratedRegex(@"\{(?<resource>[a-zA-Z][a-zA-Z0-9-]*)\.(connectionString|value|inputs\.value|bindings\.[a-z]+\.(url|host|port|targetPort))\}")]
    private static partial Regex Expression();
}
