using System.Security.Cryptography;
using Aspire.Hosting.ApplicationModel;
using Tests.Infrastructure;

namespace Tests.AppHost;

/// <summary>
/// An AppHost built by a test generates secrets like the developer's does (passwords, signing keys) and keeps them in
/// a user-secrets store; that store is the test's own, in the test run's profile, never the developer's.
/// </summary>
public sealed class SecretsStoreTests
{
    [Fact]
    public async Task An_apphost_under_test_keeps_its_generated_secrets_in_a_store_of_its_own()
    {
        var developersStore = Path.Combine(TestProfile.DeveloperHome, ".microsoft", "usersecrets", "multi-tenant-jobs-apphost", "secrets.json");
        var before = Fingerprint(developersStore);
        using var scope = AppHostScope.Create();
        var builder = await scope.BuilderAsync(["tenant-a"]);
        var parameter = builder.Resources.OfType<ParameterResource>().Single(p => p.Name == "admin-password-tenant-a");

        // What the AppHost does when it first needs the value: generate it and keep it for the next run.
        var password = parameter.Default!.GetDefaultValue();

        Assert.StartsWith(TestProfile.Directory, scope.UserSecretsFile, StringComparison.Ordinal);
        Assert.Contains(password, await File.ReadAllTextAsync(scope.UserSecretsFile, TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(before, Fingerprint(developersStore));
    }

    private static string Fingerprint(string path) =>
        File.Exists(path) ? $"{File.GetLastWriteTimeUtc(path):O} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}" : "absent";
}
