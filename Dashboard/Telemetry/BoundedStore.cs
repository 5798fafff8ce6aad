namespace Dashboard.Telemetry;

/// <summary>
/// A capped, append-only buffer for one signal: when full, the oldest items are dropped first and counted.
/// Thread-safe; readers get a snapshot, oldest first.
/// </summary>
internal sealed class BoundedStore<T>(int capacity)
{
    private readonly Lock _gate = new();
    private readonly T[] _items = new T[capacity];
    private int _start;
    private int _count;
    private long _dropped;
    private long _received;

    public int Capacity => _items.Length;

    public long Dropped { get { lock (_gate) { return _dropped; } } }

    public long Received { get { lock (_gate) { return _received; } } }

    public int Count { get { lock (_gate) { return _count; } } }

    public void AddRange(IEnumerable<T> items)
    {
        lock (_gate)
        {
            foreach (var item in items)
            {
                _received++;
                if (_count == _items.Length)
                {
                    _items[_start] = item;
                    _start = (_start + 1) % _items.Length;
                    _dropped++;
                }
                else
                {
                    _items[(_start + _count) % _items.Length] = item;
                    _count++;
                }
            }
        }
    }

    public List<T> Snapshot()
    {
        lock (_gate)
        {
            var result = new List<T>(_count);
            for (var i = 0; i < _count; i++)
            {
                result.Add(_items[(_start + i) % _items.Length]);
            }
            return result;
        }
    }
}
