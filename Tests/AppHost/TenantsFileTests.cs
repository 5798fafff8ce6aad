namespace Tests.AppHost;

/// <summary>A tenants.json the AppHost cannot use stops it at once, naming the problem, before anything starts.</summary>
public sealed class TenantsFileTests
{
    [Theory]
    [InlineData("""{"tenants":[{"id":"tenant-a"},{"id":"Tenant_B"}]}""", "Invalid tenant id 'Tenant_B'")]
    [InlineData("""{"tenants":[{"id":"tenant-a"},{"id":"tenant-a"}]}""", "tenant 'tenant-a' appears more than once")]
    [InlineData("""{"tenants":[{"id":"tenant-a","replicas":2}]}""", "replicas")]
    [InlineData("""{"tenants":[{"id":"tenant-a","webReplicas":0}]}""", "Invalid webReplicas 0 for tenant 'tenant-a'")]
    [InlineData("""{"tenants":[]}""", "\"tenants\" is empty")]
    [InlineData("""{"tenants":[{"id":"tenant-a","elasticsearchNode":"http://es:9200","elasticsearchContainer":true}]}""", "has both elasticsearchNode and elasticsearchContainer")]
    [InlineData("""{"tenants":[{"id":"tenant-a","elasticsearchNode":"es:9200"}]}""", "Invalid elasticsearchNode 'es:9200'")]
    [InlineData("""{"tenants":[{"id":"tenant-a"}""", "Invalid tenant list")]
    public async Task A_bad_tenant_list_stops_the_apphost_with_exit_code_1_naming_the_problem_and_starts_nothing(string json, string expected)
    {
        using var scope = AppHostScope.Create();
        var file = scope.WriteTenantsJson(json);

        var result = await AppHostProcess.RunAsync("--AppHost:Tenants", file, "--APPHOST_STATE_DIR", scope.StateDirectory);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.Contains(file, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(scope.StateDirectory), "the AppHost created its state directory for a topology it refused");
        Assert.Empty(scope.ProcessesMentioningRoot());
    }
}
