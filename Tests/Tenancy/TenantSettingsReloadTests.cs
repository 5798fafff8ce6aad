using Microsoft.Extensions.Logging;
using Tenancy;

namespace Tests.Tenancy;

public sealed class TenantSettingsReloadTests : IDisposable
{
    private static readonly TenantId A = TenantId.Parse("tenant-a");
    private static readonly TenantId B = TenantId.Parse("tenant-b");

    private readonly TempDirectory _dir = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly string _path;

    public TenantSettingsReloadTests() => _path = _dir.File("tenants.json");

    public void Dispose() => _dir.Dispose();

    private static string Tenants(params string[] ids) =>
        "{" + string.Join(",", ids.Select(id => $$"""
            "{{id}}": { "databaseUrl": "postgresql://u:p@db/{{id.Replace('-', '_')}}", "signingKey": "key-{{id}}" }
            """)) + "}";

    private TenantSettingsStore StartStore(string initial, params (string, string?)[] more)
    {
        File.WriteAllText(_path, initial);
        return StoreFactory.Create(TestConfiguration.MultiTenant([("TENANT_CONFIG_FILE", _path), .. more]), _logs);
    }

    private static Task<TenantSettingsChangedEventArgs> NextChange(TenantSettingsStore store)
    {
        var changed = new TaskCompletionSource<TenantSettingsChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Changed += (_, e) => changed.TrySetResult(e);
        return changed.Task;
    }

    [Fact]
    public async Task Adding_a_tenant_to_the_file_swaps_the_snapshot_and_reports_it_added()
    {
        using var store = StartStore(Tenants("tenant-a"));
        var change = NextChange(store);

        await File.WriteAllTextAsync(_path, Tenants("tenant-a", "tenant-b"), TestContext.Current.CancellationToken);

        var e = await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([B], e.Added);
        Assert.Empty(e.Removed);
        Assert.Empty(e.Changed);
        Assert.Equal("key-tenant-b", store.Get(B).SigningKey);
        Assert.Same(e.Current, store.Current);
    }

    [Fact]
    public async Task Removing_a_tenant_from_the_file_reports_it_removed_and_lookups_then_fail()
    {
        using var store = StartStore(Tenants("tenant-a", "tenant-b"));
        var change = NextChange(store);

        await File.WriteAllTextAsync(_path, Tenants("tenant-a"), TestContext.Current.CancellationToken);

        var e = await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([B], e.Removed);
        Assert.Empty(e.Added);
        Assert.Throws<TenantNotFoundException>(() => store.Get(B));
    }

    [Fact]
    public async Task Changing_a_field_reports_the_tenant_changed()
    {
        using var store = StartStore(Tenants("tenant-a", "tenant-b"));
        var change = NextChange(store);

        await File.WriteAllTextAsync(_path, Tenants("tenant-a", "tenant-b").Replace("key-tenant-a", "rotated", StringComparison.Ordinal), TestContext.Current.CancellationToken);

        var e = await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([A], e.Changed);
        Assert.Equal("rotated", store.Get(A).SigningKey);
    }

    [Fact]
    public async Task A_malformed_write_keeps_the_last_good_snapshot_and_logs_an_error_naming_the_file()
    {
        using var store = StartStore(Tenants("tenant-a"));
        var before = store.Current;

        await File.WriteAllTextAsync(_path, """{ "tenant-a": { "databaseUrl": """, TestContext.Current.CancellationToken);

        await Eventually.True(() => _logs.Entries.Any(e => e.Level == LogLevel.Error && e.Message.Contains("malformed JSON", StringComparison.Ordinal)),
            "the failed reload is logged");
        var error = _logs.Entries.First(e => e.Level == LogLevel.Error);
        Assert.Contains(_path, error.Message, StringComparison.Ordinal);
        Assert.Same(before, store.Current);
        Assert.NotNull(store.Get(A));
    }

    [Fact]
    public async Task A_good_write_after_a_malformed_one_is_applied()
    {
        using var store = StartStore(Tenants("tenant-a"));
        await File.WriteAllTextAsync(_path, "{ not json", TestContext.Current.CancellationToken);
        await Eventually.True(() => _logs.Entries.Any(e => e.Level == LogLevel.Error), "the malformed write is noticed");
        var change = NextChange(store);

        await File.WriteAllTextAsync(_path, Tenants("tenant-a", "tenant-b"), TestContext.Current.CancellationToken);

        var e = await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([B], e.Added);
    }

    [Fact]
    public async Task A_reload_that_breaks_a_rule_keeps_the_last_good_snapshot()
    {
        using var store = StartStore(Tenants("tenant-a"));
        var before = store.Current;

        await File.WriteAllTextAsync(_path, """{ "Bad_Id": { "databaseUrl": "postgresql://u:p@db/x" } }""", TestContext.Current.CancellationToken);

        await Eventually.True(() => _logs.Entries.Any(e => e.Level == LogLevel.Error && e.Message.Contains("'Bad_Id'", StringComparison.Ordinal)),
            "the refused reload is logged naming the bad id");
        Assert.Same(before, store.Current);
    }

    [Fact]
    public async Task Replacing_the_file_by_rename_like_an_editor_is_picked_up()
    {
        using var store = StartStore(Tenants("tenant-a"));
        var change = NextChange(store);
        var temp = _dir.File("tenants.json.tmp");

        await File.WriteAllTextAsync(temp, Tenants("tenant-b"), TestContext.Current.CancellationToken);
        File.Move(temp, _path, overwrite: true);

        var e = await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([B], e.Added);
        Assert.Equal([A], e.Removed);
    }

    [Fact]
    public async Task A_briefly_missing_file_keeps_the_snapshot_until_it_returns()
    {
        using var store = StartStore(Tenants("tenant-a"));
        var before = store.Current;

        File.Delete(_path);
        await Eventually.True(() => _logs.Entries.Any(e => e.Level == LogLevel.Error && e.Message.Contains("does not exist", StringComparison.Ordinal)),
            "the missing file is logged");
        Assert.Same(before, store.Current);

        var change = NextChange(store);
        await File.WriteAllTextAsync(_path, Tenants("tenant-a", "tenant-b"), TestContext.Current.CancellationToken);
        var e = await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal([B], e.Added);
    }

    [Fact]
    public async Task Individual_variables_still_override_the_file_after_a_reload()
    {
        using var store = StartStore(Tenants("tenant-a"), ("TENANT_TENANT_A_SIGNING_KEY", "from-variable"));
        var change = NextChange(store);

        await File.WriteAllTextAsync(_path, Tenants("tenant-a", "tenant-b"), TestContext.Current.CancellationToken);

        await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Equal("from-variable", store.Get(A).SigningKey);
    }

    [Fact]
    public async Task A_successful_reload_is_logged_with_what_changed()
    {
        using var store = StartStore(Tenants("tenant-a"));
        var change = NextChange(store);

        await File.WriteAllTextAsync(_path, Tenants("tenant-b"), TestContext.Current.CancellationToken);

        await change.WaitAsync(Eventually.Timeout, TestContext.Current.CancellationToken);
        Assert.Contains(_logs.Entries, e => e.Message == $"Reloaded 1 tenant configurations from TENANT_CONFIG_FILE ({_path}) (added: tenant-b; removed: tenant-a; changed: none)");
    }
}
