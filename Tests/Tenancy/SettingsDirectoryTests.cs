using Tenancy;

namespace Tests.Tenancy;

/// <summary>
/// <c>TENANT_CONFIG_FILE</c> naming a directory: how Kubernetes mounts several ConfigMaps and Secrets into one volume
/// (JSON files of settings, and files named like tenant variables holding one secret each).
/// </summary>
public sealed class SettingsDirectoryTests : IDisposable
{
    private static readonly TenantId A = TenantId.Parse("tenant-a");
    private static readonly TenantId B = TenantId.Parse("tenant-b");

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private TenantSettingsStore Store() => StoreFactory.Create(TestConfiguration.MultiTenant(("TENANT_CONFIG_FILE", _dir.Path)));

    private void Write(string name, string text) => File.WriteAllText(_dir.File(name), text);

    [Fact]
    public void Json_files_and_one_setting_files_of_a_directory_make_one_set_of_tenants()
    {
        Write("tenants-0.json", """{"tenant-a":{"databaseUrl":"postgresql://tenant_a@postgres:5432/tenant_a","baseUrl":"https://a.example.com"}}""");
        Write("tenants-1.json", """{"tenant-b":{"databaseUrl":"postgresql://tenant_b@postgres:5432/tenant_b"}}""");
        Write("TENANT_TENANT_A_DATABASE_PASSWORD", "secret-a\n");
        Write("TENANT_TENANT_A_SIGNING_KEY", "key-a\n");
        Write("TENANT_TENANT_B_SIGNING_KEY", "key-b");

        using var store = Store();

        Assert.Equal([A, B], store.Current.Tenants.Keys.OrderBy(t => t.Value));
        Assert.Equal("key-a", store.Get(A).SigningKey);
        Assert.Equal("key-b", store.Get(B).SigningKey);
        Assert.Equal("https://a.example.com", store.Get(A).BaseUrl);
        var a = new Npgsql.NpgsqlConnectionStringBuilder(store.Get(A).ConnectionString);
        Assert.Equal(("tenant_a", "secret-a", "postgres", "tenant_a"), (a.Username, a.Password, a.Host, a.Database));
        Assert.Equal($"TENANT_CONFIG_FILE ({_dir.Path})", store.Current.Source);
    }

    [Fact]
    public void Kubernetes_entries_that_start_with_a_dot_are_skipped()
    {
        Write("tenants-0.json", """{"tenant-a":{"databaseUrl":"postgresql://u:p@db/a"}}""");
        Directory.CreateDirectory(_dir.File("..2026_12_07_10_00_00.123"));
        Write("..data", "not a settings file");

        using var store = Store();

        Assert.Single(store.Current.Tenants);
    }

    [Fact]
    public void A_file_that_is_neither_json_nor_a_tenant_variable_is_refused_naming_it()
    {
        Write("tenants-0.json", """{"tenant-a":{"databaseUrl":"postgresql://u:p@db/a"}}""");
        Write("README", "notes");

        var thrown = Assert.Throws<TenantConfigurationException>(Store);

        Assert.Contains(_dir.File("README"), thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_one_setting_file_that_names_no_setting_is_refused_naming_the_file()
    {
        Write("tenants-0.json", """{"tenant-a":{"databaseUrl":"postgresql://u:p@db/a"}}""");
        Write("TENANT_TENANT_A_SIGNIN_KEY", "k");

        var thrown = Assert.Throws<TenantConfigurationException>(Store);

        Assert.Contains("TENANT_TENANT_A_SIGNIN_KEY", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("names no tenant setting", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tenant_defined_in_two_json_files_is_refused_naming_both()
    {
        Write("tenants-0.json", """{"tenant-a":{"databaseUrl":"postgresql://u:p@db/a"}}""");
        Write("tenants-1.json", """{"tenant-a":{"databaseUrl":"postgresql://u:p@db/a2"}}""");

        var thrown = Assert.Throws<TenantConfigurationException>(Store);

        Assert.Contains("tenants-0.json", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("tenants-1.json", thrown.Message, StringComparison.Ordinal);
        Assert.Equal("tenant-a", thrown.TenantId);
    }

    [Fact]
    public async Task A_secret_rotated_in_place_is_read_again()
    {
        Write("tenants-0.json", """{"tenant-a":{"databaseUrl":"postgresql://u@db/a"}}""");
        Write("TENANT_TENANT_A_SIGNING_KEY", "before");
        using var store = Store();
        var changed = new TaskCompletionSource<TenantSettingsChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Changed += (_, e) => changed.TrySetResult(e);

        Write("TENANT_TENANT_A_SIGNING_KEY", "after");

        var e = await changed.Task.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([A], e.Changed);
        Assert.Equal("after", store.Get(A).SigningKey);
    }

    [Fact]
    public void A_database_password_of_its_own_replaces_the_one_in_the_url()
    {
        using var store = StoreFactory.Create(TestConfiguration.MultiTenant(
            ("TENANT_CONFIGS", """{"tenant-a":{"databaseUrl":"postgresql://tenant_a:old@db/a","databasePassword":"p;w\"d"}}""")));

        Assert.Equal("p;w\"d", new Npgsql.NpgsqlConnectionStringBuilder(store.Get(A).ConnectionString).Password);
    }
}
