using Dashboard.Telemetry;

namespace Tests.Dashboard;

public sealed class BoundedStoreTests
{
    [Fact]
    public void When_full_the_oldest_items_are_dropped_first_and_counted()
    {
        var store = new BoundedStore<int>(3);

        store.AddRange([1, 2, 3, 4, 5]);

        Assert.Equal([3, 4, 5], store.Snapshot());
        Assert.Equal(2, store.Dropped);
        Assert.Equal(5, store.Received);
    }
}
