using Tenancy;

namespace Tests.Tenancy;

public sealed class TenantScopeTests
{
    private static readonly TenantId A = TenantId.Parse("tenant-a");
    private static readonly TenantId B = TenantId.Parse("tenant-b");
    private readonly AmbientCurrentTenant _current = new();

    [Fact]
    public void Outside_any_scope_there_is_no_tenant_and_Required_throws()
    {
        Assert.Null(_current.Id);
        Assert.Throws<InvalidOperationException>(() => _current.Required);
    }

    [Fact]
    public void A_scope_makes_its_tenant_current_until_disposed()
    {
        using (TenantScope.Begin(A))
        {
            Assert.Equal(A, _current.Id);
            Assert.Equal(A, _current.Required);
        }
        Assert.Null(_current.Id);
    }

    [Fact]
    public void Disposing_a_nested_scope_restores_the_outer_tenant()
    {
        using var outer = TenantScope.Begin(A);
        using (TenantScope.Begin(B))
        {
            Assert.Equal(B, _current.Id);
        }
        Assert.Equal(A, _current.Id);
    }

    [Fact]
    public void Disposing_a_scope_twice_does_not_undo_the_outer_scope()
    {
        using var outer = TenantScope.Begin(A);
        var inner = TenantScope.Begin(B);
        inner.Dispose();
        using (TenantScope.Begin(B))
        {
            inner.Dispose();
            Assert.Equal(B, _current.Id);
        }
        Assert.Equal(A, _current.Id);
    }

    [Fact]
    public void A_default_tenant_id_cannot_start_a_scope()
    {
        Assert.Throws<ArgumentException>(() => TenantScope.Begin(default));
    }

    [Fact]
    public async Task Concurrent_scopes_with_awaits_in_between_never_observe_each_others_tenant()
    {
        const int Tasks = 200;
        using var start = new ManualResetEventSlim();
        var cancellation = TestContext.Current.CancellationToken;

        var runs = Enumerable.Range(0, Tasks).Select(i => Task.Run(async () =>
        {
            var mine = TenantId.Parse($"tenant-{i}");
            start.Wait(cancellation);
            using var scope = TenantScope.Begin(mine);
            var mismatches = 0;
            for (var step = 0; step < 20; step++)
            {
                await Task.Yield();
                if (_current.Id != mine)
                {
                    mismatches++;
                }
                await Task.Delay(step % 3, cancellation);
                if (_current.Id != mine)
                {
                    mismatches++;
                }
            }
            return mismatches;
        }, cancellation)).ToArray();
        start.Set();

        var mismatches = await Task.WhenAll(runs);

        Assert.All(mismatches, m => Assert.Equal(0, m));
        Assert.Null(_current.Id);
    }

    [Fact]
    public async Task A_scope_started_inside_Task_Run_does_not_leak_to_the_caller()
    {
        using var outer = TenantScope.Begin(A);
        TenantId? seenInside = null;

        await Task.Run(() =>
        {
            TenantScope.Begin(B); // deliberately never disposed: the caller must still not see it
            seenInside = _current.Id;
        }, TestContext.Current.CancellationToken);

        Assert.Equal(B, seenInside);
        Assert.Equal(A, _current.Id);
    }

    [Fact]
    public async Task A_scope_started_in_an_awaited_async_method_does_not_leak_to_the_caller()
    {
        static async Task OpenScopeAndAwait()
        {
            TenantScope.Begin(B);
            await Task.Yield();
        }

        await OpenScopeAndAwait();

        Assert.Null(_current.Id);
    }

    [Fact]
    public async Task Work_started_inside_a_scope_inherits_its_tenant()
    {
        using var scope = TenantScope.Begin(A);

        var seen = await Task.Run(() => _current.Id, TestContext.Current.CancellationToken);

        Assert.Equal(A, seen);
    }
}
