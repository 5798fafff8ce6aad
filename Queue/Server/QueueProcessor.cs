using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Queue.Security;
using Queue.Storage;
using StackExchange.Redis;
using Tenancy;

namespace Queue.Server;

/// <summary>
/// Processes one queue in this worker: one fetch loop leasing batches of jobs for free slots, a task per running
/// job, a lease renewer, and an acknowledger that records outcomes in batches (group commit: while one batch is
/// being written, the next accumulates). Delivery is at least once: a job whose outcome is never recorded runs
/// again when its lease expires.
/// </summary>
internal sealed class QueueProcessor : IDisposable
{
    /// <summary>Attempts at recording a batch of outcomes (about 15 s of retries, longer than a failover takes).</summary>
    private const int FinishAttempts = 12;

    /// <summary>Most outcomes written by one script call.</summary>
    private const int FinishBatch = 512;

    /// <summary>How long cancelled handlers get to return before their jobs are handed back from under them.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(2);

    private readonly string _queue;
    private readonly QueueOptions _options;
    private readonly JobQueueServerOptions _server;
    private readonly QueueStorage _storage;
    private readonly IReadOnlyDictionary<string, JobHandlerInvoker> _handlers;
    private readonly JobAuthority _authority;
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _workerId;
    private readonly TenantCircuits _circuits;
    private readonly IReadOnlyList<IDependencyFailureClassifier> _classifiers;
    private readonly Retention _retention;
    private readonly SemaphoreSlim _slots;
    private readonly WakeSignal _wake = new();
    private readonly CancellationTokenSource _stopFetching = new();
    private readonly CancellationTokenSource _stopRenewing = new();
    private readonly ConcurrentDictionary<string, RunningJob> _running = new(StringComparer.Ordinal);
    private readonly Channel<RunningJob> _ready = Channel.CreateUnbounded<RunningJob>();

    /// <summary>Jobs of each fetch (lease token) not yet ended here; at zero the lease record can go.</summary>
    private readonly ConcurrentDictionary<string, int> _outstanding = new(StringComparer.Ordinal);

    /// <summary>Leases all of whose jobs have ended; dropped with the next outcome batch.</summary>
    private readonly ConcurrentQueue<(int Shard, string Token)> _released = new();

    /// <summary>This worker's view of each shard of the queue: what woke it, what its last fetch hinted.</summary>
    private readonly ShardView[] _shards;

    /// <summary>Where the next fetch round starts, so that shards take turns at being first.</summary>
    private int _rotation;
    private readonly int _capacity;

    /// <summary>Slots held back by the fetch loop itself while automatic prefetch is off (jobs too slow to fetch ahead).</summary>
    private readonly int _autoAhead;
    private int _parked;

    /// <summary>Moving mean of this queue's handler run times here (Stopwatch ticks); unknown (max) until the first job.</summary>
    private long _meanRunTicks = long.MaxValue;
    private static readonly long FastRunTicks = Stopwatch.Frequency / 1000;
    private Task[] _workers = [];
    private readonly Channel<FinishEntry> _finishes = Channel.CreateUnbounded<FinishEntry>(new UnboundedChannelOptions { SingleReader = true });
    private Task _fetchLoop = Task.CompletedTask;
    private Task _renewLoop = Task.CompletedTask;
    private Task _ackLoop = Task.CompletedTask;
    private long _fetches;

    /// <summary>Keeps lease tokens unique even if two processes are configured with the same worker id.</summary>
    private readonly string _instance = Guid.NewGuid().ToString("N")[..8];
    private int _handedBack;

    public QueueProcessor(
        string queue, QueueOptions options, JobQueueServerOptions server, QueueStorage storage, IReadOnlyDictionary<string, JobHandlerInvoker> handlers,
        JobAuthority authority, IServiceScopeFactory scopes, TimeProvider time, ILogger logger, string workerId,
        TenantCircuits circuits, IReadOnlyList<IDependencyFailureClassifier> classifiers)
    {
        _circuits = circuits;
        _classifiers = classifiers;
        _queue = queue;
        _options = options;
        _server = server;
        _storage = storage;
        _handlers = handlers;
        _authority = authority;
        _scopes = scopes;
        _time = time;
        _logger = logger;
        _workerId = workerId;
        _retention = Retention.From(options);
        // A slot is a leased job held here, running or fetched ahead for the next free worker. Automatic prefetch has
        // room for twice the concurrency ahead, parked (held by the fetch loop) while the jobs are not short.
        _autoAhead = options.Prefetch == QueueOptions.AutoPrefetch ? QueueOptions.AutoPrefetchFactor * options.Concurrency : 0;
        _capacity = options.Concurrency + Math.Max(options.Prefetch, _autoAhead);
        _slots = new SemaphoreSlim(_capacity, _capacity);
        _shards = [.. Enumerable.Range(0, storage.Layout.ShardCount).Select(i => new ShardView(i))];
    }

    public string Queue => _queue;

    public QueueOptions Options => _options;

    /// <summary>Called on a wake-up message of one shard: jobs may be waiting (of <paramref name="tenant"/>, when named).</summary>
    public void Wake(int shard, string? tenant)
    {
        var view = _shards[shard];
        if (!string.IsNullOrEmpty(tenant))
        {
            view.Woken.TryAdd(tenant, 0);
        }
        view.Pending = true;
        _wake.Set();
    }

    /// <summary>Wakes the fetch loop to look at every shard (holds changed, a capped tenant's slot freed).</summary>
    public void Wake()
    {
        foreach (var view in _shards)
        {
            view.Pending = true;
        }
        _wake.Set();
    }

    public void Start()
    {
        _workers = [.. Enumerable.Range(0, _options.Concurrency).Select(_ => Task.Run(WorkerLoopAsync))];
        _fetchLoop = Task.Run(FetchLoopAsync);
        _renewLoop = Task.Run(RenewLoopAsync);
        _ackLoop = Task.Run(AckLoopAsync);
    }

    /// <summary>
    /// Stops fetching, lets running jobs finish within the shutdown timeout, then cancels the rest and hands them
    /// back to waiting at once, so another worker can take them without waiting for a lease to expire.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopFetching.CancelAsync();
        await _fetchLoop;
        // Jobs fetched ahead but not started go back at once; then the workers only finish what they run.
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var notStarted))
        {
            HandBack(notStarted);
            Release(notStarted);
        }
        var running = _workers;
        // Real time on purpose: shutdown must end even when tests drive the job clock by hand.
        if (!await WaitAllAsync(running, _server.ShutdownTimeout, cancellationToken))
        {
            foreach (var run in _running.Values)
            {
                run.Cancel();
            }
            if (!await WaitAllAsync(running, CancelGrace, cancellationToken))
            {
                foreach (var stuck in _running.Values)
                {
                    stuck.HandedBack = true;
                    HandBack(stuck);
                }
            }
        }
        _finishes.Writer.TryComplete();
        await _ackLoop;
        await _stopRenewing.CancelAsync();
        await _renewLoop;
        if (_handedBack > 0)
        {
            QueueLog.HandedBack(_logger, _queue, _handedBack);
        }
    }

    public void Dispose()
    {
        _stopFetching.Dispose();
        _stopRenewing.Dispose();
        _slots.Dispose();
    }

    private static async Task<bool> WaitAllAsync(Task[] tasks, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(tasks).WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private async Task FetchLoopAsync()
    {
        var stopping = _stopFetching.Token;
        var leaseMs = (long)_options.LeaseDuration.TotalMilliseconds;
        foreach (var view in _shards)
        {
            view.Pending = true;
        }
        while (!stopping.IsCancellationRequested)
        {
            _wake.Reset();
            var parkTarget = ParkTarget();
            while (_parked > parkTarget)
            {
                _slots.Release();
                _parked--;
            }
            while (_parked < parkTarget && _slots.Wait(0))
            {
                _parked++;
            }
            try
            {
                await _slots.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (_parked < ParkTarget())
            {
                // A slot freed while fetching ahead is off: it is held back, not used.
                _parked++;
                continue;
            }
            var want = 1;
            var usable = _capacity - _parked;
            try
            {
                while (want < usable)
                {
                    if (_slots.Wait(0))
                    {
                        want++;
                    }
                    else if (_ready.Reader.Count > 0 && want < (usable + 1) / 2)
                    {
                        // Workers still have fetched jobs to start: gather more free slots for a bigger batch per round trip.
                        await _slots.WaitAsync(stopping);
                        want++;
                    }
                    else
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                _slots.Release(want);
                break;
            }

            var gate = FetchGate.Open;
            var leased = 0;
            try
            {
                // Held tenants (paused, or a dependency down) are skipped; a due probe takes one job of its tenant.
                gate = await _circuits.GateAsync();
                leased = await FetchRoundAsync(want, gate, leaseMs);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever went wrong (Valkey down, a bug), the loop must survive and try again.
                _slots.Release(want);
                await UnclaimAsync(gate.Probes);
                QueueLog.FetchFailed(_logger, e, _queue);
                if (!await DelayAsync(TimeSpan.FromSeconds(1), stopping))
                {
                    break;
                }
                continue;
            }
            if (leased > 0 || _shards.Any(v => v.Pending))
            {
                continue;
            }
            var timeout = _server.SafetyPollInterval;
            foreach (var dueMs in _shards.Select(v => v.NextDueMs).Append(gate.NextProbeMs))
            {
                if (dueMs >= 0)
                {
                    var untilDue = TimeSpan.FromMilliseconds(Math.Max(1, dueMs - Now()));
                    timeout = untilDue < timeout ? untilDue : timeout;
                }
            }
            try
            {
                if (!await _wake.WaitAsync(timeout, _time, stopping))
                {
                    // A timer, not a message: a delayed job or a lease may be due, or a wake-up was lost.
                    foreach (var view in _shards)
                    {
                        view.Pending = true;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// One round: the free slots shared out over the shards that may have work, starting with a different shard each
    /// round, one fetch per shard, all in flight at once. Returns how many jobs were leased; unused slots are released.
    /// </summary>
    private async Task<int> FetchRoundAsync(int want, FetchGate gate, long leaseMs)
    {
        var now = Now();
        var probesByShard = gate.Probes.Keys.GroupBy(t => _storage.Layout.ShardOf(t)).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var view in _shards)
        {
            if (probesByShard.ContainsKey(view.Index) || (view.NextDueMs >= 0 && view.NextDueMs <= now))
            {
                view.Pending = true;
            }
        }
        var pending = new List<ShardView>(_shards.Length);
        var first = _rotation++ % _shards.Length;
        for (var i = 0; i < _shards.Length; i++)
        {
            var view = _shards[(first + i) % _shards.Length];
            if (view.Pending)
            {
                pending.Add(view);
            }
        }
        if (pending.Count == 0)
        {
            _slots.Release(want);
            return 0;
        }
        var chosen = pending.Take(want).ToList();
        var held = gate.Held.Count == 0 ? null : gate.Held.ToDictionary(h => h.Tenant, h => h.Limit, StringComparer.Ordinal);
        var calls = new List<(ShardView View, int Want, List<string> Declared, Task<FetchResult> Call)>(chosen.Count);
        for (var i = 0; i < chosen.Count; i++)
        {
            var view = chosen[i];
            view.Pending = false;
            var share = (want / chosen.Count) + (i < want % chosen.Count ? 1 : 0);
            var declared = Declare(view, probesByShard.GetValueOrDefault(view.Index), share);
            var tenants = declared.Select(t => (t, held is not null && held.TryGetValue(t, out var limit) ? limit : -1)).ToList();
            var token = $"{_workerId}:{_instance}:{Interlocked.Increment(ref _fetches)}";
            calls.Add((view, share, declared, FetchShardAsync(view, now, now + leaseMs, token, share, tenants)));
        }
        var leased = 0;
        Exception? failure = null;
        Dictionary<string, string>? unprobed = gate.Probes.Count == 0 ? null : new(gate.Probes, StringComparer.Ordinal);
        var fetched = new List<(ShardView View, List<string> Declared, FetchResult Result)>(calls.Count);
        foreach (var (view, share, declared, call) in calls)
        {
            FetchResult result;
            try
            {
                result = await call;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _slots.Release(share);
                view.Pending = true;
                failure ??= e;
                continue;
            }
            if (share > result.Jobs.Count)
            {
                _slots.Release(share - result.Jobs.Count);
            }
            if (result.Jobs.Count > 0)
            {
                _outstanding[result.Jobs[0].LeaseToken] = result.Jobs.Count;
            }
            fetched.Add((view, declared, result));
        }
        if (_storage.WaitForReplicas > 0 && fetched.Any(f => f.Result.Jobs.Count > 0))
        {
            // The leases replicated before their jobs start: a failover cannot then hand them to another worker as well.
            // Every shard's wait at once, so that a job of one shard does not wait for another shard's replica too.
            await Task.WhenAll(fetched.Where(f => f.Result.Jobs.Count > 0).Select(f => ReplicatedAsync(f.View.Index, "lease")));
        }
        foreach (var (view, declared, result) in fetched)
        {
            foreach (var job in result.Jobs)
            {
                string? probe = null;
                if (unprobed is not null && unprobed.Remove(job.Tenant, out var dependency))
                {
                    probe = dependency;
                }
                Start(job, probe);
            }
            leased += result.Jobs.Count;
            view.Learn(result, declared, _authority.OnlySlot);
        }
        if (unprobed is { Count: > 0 })
        {
            await UnclaimAsync(unprobed);
        }
        if (failure is not null && leased == 0)
        {
            QueueLog.FetchFailed(_logger, failure, _queue);
            await DelayAsync(TimeSpan.FromSeconds(1), _stopFetching.Token);
        }
        return leased;
    }

    /// <summary>
    /// The tenants one fetch declares (a function touches only declared tenants' keys): those named by wake-ups, the
    /// previous fetch's hints, the probes due on this shard; a single-tenant worker only ever its own slot.
    /// </summary>
    private List<string> Declare(ShardView view, List<string>? probes, int share)
    {
        if (_authority.OnlySlot is { } only)
        {
            view.Woken.Clear();
            return [only];
        }
        var limit = Math.Max(MaxDeclared, share);
        var declared = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string tenant)
        {
            if (declared.Count < limit && seen.Add(tenant))
            {
                declared.Add(tenant);
            }
        }
        foreach (var tenant in probes ?? [])
        {
            Add(tenant);
        }
        foreach (var tenant in view.Woken.Keys)
        {
            if (declared.Count >= limit)
            {
                break;
            }
            view.Woken.TryRemove(tenant, out _);
            Add(tenant);
        }
        foreach (var tenant in view.Hints)
        {
            Add(tenant);
        }
        return declared;
    }

    private Task<FetchResult> FetchShardAsync(ShardView view, long now, long leaseUntil, string token, int max, List<(string Tenant, int Limit)> tenants) =>
        _storage.FetchAsync(_queue, view.Index, now, leaseUntil, token, max, _options.PerTenantConcurrency, _options.MaxStalls, tenants,
            Math.Clamp(max, MinHints, MaxDeclared));

    private long _lastReplicationWarning;

    /// <summary>Waits for the replicas the deployment asks for; a shortfall is logged (at most every 10 s), not fatal.</summary>
    private async Task ReplicatedAsync(int shard, string what)
    {
        if (_storage.WaitForReplicas <= 0)
        {
            return;
        }
        try
        {
            var acked = await _storage.ReplicatedAsync(_storage.Layout.Shards(_queue)[shard].Ready);
            if (acked < _storage.WaitForReplicas && Environment.TickCount64 - Interlocked.Read(ref _lastReplicationWarning) > 10_000)
            {
                Interlocked.Exchange(ref _lastReplicationWarning, Environment.TickCount64);
                QueueLog.NotReplicated(_logger, _queue, what, acked, _storage.WaitForReplicas);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            QueueLog.LoopFailed(_logger, e, "replication", _queue);
        }
    }

    /// <summary>Most tenants one fetch declares beyond its batch size (each is a block of keys in the call).</summary>
    private const int MaxDeclared = 32;

    /// <summary>Fewest tenants of each kind a fetch names for the next one.</summary>
    private const int MinHints = 8;

    /// <summary>This worker's view of one shard of the queue.</summary>
    private sealed class ShardView(int index)
    {
        public int Index { get; } = index;

        /// <summary>Tenants named by wake-up messages since the last fetch from this shard.</summary>
        public ConcurrentDictionary<string, byte> Woken { get; } = new(StringComparer.Ordinal);

        /// <summary>The shard may have work: a wake-up, a timer, or the last fetch found more than it declared.</summary>
        public volatile bool Pending;

        /// <summary>The tenants the last fetch named for the next.</summary>
        public IReadOnlyList<string> Hints { get; private set; } = [];

        public long NextDueMs { get; private set; } = -1;

        /// <summary>Tenants declared by fetches in a row that leased nothing; one turn of the ring is enough.</summary>
        private long _emptyStreak;

        public void Learn(FetchResult result, List<string> declared, string? only)
        {
            Hints = only is null ? result.Hints : [.. result.Hints.Where(t => t == only)];
            NextDueMs = result.NextDueMs;
            if (result.Jobs.Count > 0)
            {
                _emptyStreak = 0;
                Pending = true;
                return;
            }
            _emptyStreak += declared.Count;
            // Nothing leased: look again only for tenants not yet declared, and not beyond one turn of the ring (its
            // first tenants may all be held or capped).
            if (Hints.Any(t => !declared.Contains(t, StringComparer.Ordinal)) && _emptyStreak <= result.RingSize + MaxDeclared)
            {
                Pending = true;
            }
            else
            {
                _emptyStreak = 0;
            }
        }
    }

    /// <summary>Slots the fetch loop holds back: with automatic prefetch, all the room ahead unless recent jobs were short.</summary>
    private int ParkTarget() => _autoAhead > 0 && Interlocked.Read(ref _meanRunTicks) >= FastRunTicks ? _autoAhead : 0;

    /// <summary>Folds one handler's run time into the moving mean (1/16 weight; races between workers only blur it).</summary>
    private void RecordRunTime(long ticks)
    {
        if (_autoAhead == 0)
        {
            return;
        }
        var mean = Interlocked.Read(ref _meanRunTicks);
        Interlocked.Exchange(ref _meanRunTicks, mean == long.MaxValue ? ticks : mean + ((ticks - mean) / 16));
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Gives back probe claims this processor could not use, so another queue's worker can probe now.</summary>
    private async Task UnclaimAsync(IReadOnlyDictionary<string, string> probes)
    {
        foreach (var (tenant, dependency) in probes)
        {
            try
            {
                await _circuits.UnclaimAsync(tenant, dependency);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // The claim expires by itself.
                QueueLog.LoopFailed(_logger, e, "probe", _queue);
            }
        }
    }

    private void Start(FetchedJob job, string? probe)
    {
        // Not linked to a shared parent: registering on one token from every job contends; shutdown cancels each instead.
        var run = new RunningJob(job, new CancellationTokenSource()) { Probe = probe };
        _running[Key(job)] = run;
        if (!_ready.Writer.TryWrite(run))
        {
            // Stopping: the workers take no more jobs.
            HandBack(run);
            Release(run);
        }
    }

    private async Task WorkerLoopAsync()
    {
        while (await _ready.Reader.WaitToReadAsync())
        {
            while (_ready.Reader.TryRead(out var run))
            {
                await RunAsync(run);
            }
        }
    }

    private void Release(RunningJob run)
    {
        // Only this run's entry: after a lease loss the same job may be running here again under a new lease.
        _running.TryRemove(KeyValuePair.Create(Key(run.Job), run));
        run.Cancellation.Dispose();
        _slots.Release();
    }

    private static string Key(FetchedJob job) => job.Tenant + "|" + job.Id;

    private async Task RunAsync(RunningJob run)
    {
        try
        {
            var outcome = await ExecuteAsync(run);
            await SettleCircuitAsync(run, outcome);
            if (!run.HandedBack)
            {
                // Counted down before the outcome is queued, so the batch that records the last outcome also drops the lease.
                Ended(run);
                if (outcome is not null)
                {
                    if (outcome.Kind == FinishKind.HandBack)
                    {
                        Interlocked.Increment(ref _handedBack);
                    }
                    _finishes.Writer.TryWrite(outcome);
                }
            }
        }
        finally
        {
            Release(run);
        }
    }

    /// <summary>
    /// Tells the tenant's circuit what the job showed: its dependency failed (delayed outcome with a dependency), or it
    /// answered (completed or failed for its own reasons). A probe that showed neither (rejected, handed back) is unclaimed.
    /// </summary>
    private async Task SettleCircuitAsync(RunningJob run, FinishEntry? outcome)
    {
        var tenant = run.Job.Tenant;
        try
        {
            if (run.Failure is { } failure)
            {
                await _circuits.DependencyFailedAsync(tenant, failure.Dependency, failure.Cause, run.Probe);
            }
            else if (outcome is { Kind: FinishKind.Complete } || (outcome is { Kind: FinishKind.Fail or FinishKind.Retry } && !run.Rejected))
            {
                await _circuits.AnsweredAsync(tenant, run.Probe);
            }
            else if (run.Probe is { } probe)
            {
                await _circuits.UnclaimAsync(tenant, probe);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // A hold not recorded now is recorded by the next failure; an unreleased probe claim expires.
            QueueLog.LoopFailed(_logger, e, "circuit", _queue);
        }
    }

    private void HandBack(RunningJob run)
    {
        Ended(run);
        Interlocked.Increment(ref _handedBack);
        _finishes.Writer.TryWrite(new FinishEntry(FinishKind.HandBack, run.Job));
    }

    /// <summary>Counts a job of its fetch as ended here, once.</summary>
    private void Ended(RunningJob run)
    {
        if (Interlocked.Exchange(ref run.Ended, 1) == 1)
        {
            return;
        }
        var token = run.Job.LeaseToken;
        if (_outstanding.AddOrUpdate(token, 0, (_, n) => n - 1) <= 0)
        {
            _outstanding.TryRemove(token, out _);
            _released.Enqueue((run.Job.Shard, token));
        }
    }

    private async Task<FinishEntry?> ExecuteAsync(RunningJob run)
    {
        var job = run.Job;
        // Every log line about this job carries its tenant (the claimed one until the signature is checked), including
        // the engine's own lifecycle lines written outside the job's tenant scope: processing, retrying, failed, rejected.
        using var logScope = job.Tenant is { } claimed ? _logger.BeginScope(new TenantLogScope(claimed)) : null;
        using var activity = QueueTelemetry.StartProcess(job);
        var tags = QueueTelemetry.Tags(job.Queue, job.Tenant);
        QueueTelemetry.WaitTime.Record(Math.Max(0, Now() - job.EnqueuedMs) / 1000.0, tags);

        // Authenticate before anything tenant-bound runs (rule 2); a job that fails here never reaches a handler.
        var (tenant, failure, payload) = _authority.Authenticate(job);
        // The handler sees the payload in the clear (opened from its sealed form).
        job = job with { Payload = payload };
        JobHandlerInvoker? handler = null;
        if (failure is null && !_handlers.TryGetValue(job.Name, out handler))
        {
            failure = $"No handler is registered for job type '{job.Name}' on queue '{job.Queue}'.";
        }
        if (failure is not null || handler is null)
        {
            failure ??= "No handler.";
            run.Rejected = true;
            QueueLog.Rejected(_logger, job.Queue, job.Id, failure);
            QueueTelemetry.Failed.Add(1, tags);
            activity?.SetStatus(ActivityStatusCode.Error, failure);
            return new FinishEntry(FinishKind.Fail, job, Error: failure);
        }

        QueueLog.Processing(_logger, job.Queue, job.Id, job.Name, QueueTelemetry.TenantTag(job.Tenant));
        var started = _time.GetTimestamp();
        // Real time, not the injected clock: how long handlers hold a worker decides whether fetching ahead pays.
        var startedReal = Stopwatch.GetTimestamp();
        var cancellation = run.Cancellation.Token;
        try
        {
            // The tenant scope comes first so that everything the job's DI scope creates sees the job's tenant.
            using (tenant is { } t ? TenantScope.Begin(t) : null)
            {
                await using var scope = _scopes.CreateAsyncScope();
                await handler(scope.ServiceProvider, new JobContext(job, tenant, _storage, cancellation), cancellation);
            }
            RecordRunTime(Stopwatch.GetTimestamp() - startedReal);
            QueueTelemetry.RunTime.Record(_time.GetElapsedTime(started).TotalSeconds, tags);
            QueueTelemetry.Completed.Add(1, tags);
            return new FinishEntry(FinishKind.Complete, job);
        }
        catch (Exception) when (cancellation.IsCancellationRequested)
        {
            // Lease lost: the job belongs to whoever recovered it. Shutdown: give it back for another worker.
            return run.LeaseLost ? null : new FinishEntry(FinishKind.HandBack, job);
        }
        catch (JobRetryAfterException e)
        {
            var due = Now() + (long)Math.Max(0, e.Delay.TotalMilliseconds);
            QueueLog.Deferred(_logger, job.Queue, job.Id, DateTimeOffset.FromUnixTimeMilliseconds(due));
            return new FinishEntry(FinishKind.Delay, job, due, e.Message);
        }
        catch (Exception e)
        {
            RecordRunTime(Stopwatch.GetTimestamp() - startedReal);
            QueueTelemetry.RunTime.Record(_time.GetElapsedTime(started).TotalSeconds, tags);
            var error = DependencyFailures.Describe(e);
            activity?.SetStatus(ActivityStatusCode.Error, error);
            if (DependencyFailures.Classify(e, _classifiers) is { } dependency)
            {
                // The tenant's outage, not the job's fault (rule 7): back later without using an attempt.
                run.Failure = (dependency, error);
                var delay = _circuits.RetryDelay(job.Tenant, dependency);
                var dueAt = Now() + (long)delay.TotalMilliseconds;
                QueueLog.DependencyDelayed(_logger, job.Queue, job.Id, dependency, QueueTelemetry.TenantTag(job.Tenant), DateTimeOffset.FromUnixTimeMilliseconds(dueAt), error);
                return new FinishEntry(FinishKind.Delay, job, dueAt, error, e.ToString());
            }
            QueueTelemetry.Failed.Add(1, tags);
            var maxAttempts = job.MaxAttempts > 0 ? job.MaxAttempts : _options.MaxAttempts;
            if (e is PermanentJobFailureException || job.Attempt >= maxAttempts)
            {
                QueueLog.FailedFinal(_logger, e, job.Queue, job.Id, job.Attempt);
                return new FinishEntry(FinishKind.Fail, job, Error: error, Stack: e.ToString());
            }
            var due = Now() + (long)Backoff.Delay(_options, job.Attempt, Random.Shared.NextDouble()).TotalMilliseconds;
            QueueLog.Retrying(_logger, e, job.Queue, job.Id, job.Attempt, DateTimeOffset.FromUnixTimeMilliseconds(due));
            return new FinishEntry(FinishKind.Retry, job, due, error, e.ToString());
        }
    }

    private async Task AckLoopAsync()
    {
        var reader = _finishes.Reader;
        var batch = new List<FinishEntry>(FinishBatch);
        var released = new List<(int Shard, string Token)>();
        // After the channel completes (shutdown), one more pass drops leases whose last job ended without an outcome.
        while (await reader.WaitToReadAsync() || !_released.IsEmpty)
        {
            batch.Clear();
            while (batch.Count < FinishBatch && reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }
            released.Clear();
            while (_released.TryDequeue(out var token))
            {
                released.Add(token);
            }
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await _storage.FinishAsync(_queue, batch, released, Now(), _retention);
                    // Outcomes replicated before the worker moves on: a failover cannot resurrect finished jobs.
                    foreach (var shard in batch.Select(e => e.Job.Shard).Distinct())
                    {
                        await ReplicatedAsync(shard, "outcomes");
                    }
                    break;
                }
                catch (Exception e) when ((e is RedisException or TimeoutException) && attempt < FinishAttempts)
                {
                    // A failover or a resharding takes seconds; an unrecorded outcome would run its job again.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(200 * (1 << Math.Min(attempt - 1, 4)), 2000)));
                }
                catch (Exception e)
                {
                    // Unrecorded outcomes are not lost work: the leases expire and the jobs run again.
                    QueueLog.FinishFailed(_logger, e, _queue, batch.Count);
                    break;
                }
            }
            if (_options.PerTenantConcurrency > 0)
            {
                // A finished job may have freed a capped tenant's slot.
                Wake();
            }
        }
    }

    private async Task RenewLoopAsync()
    {
        var stopping = _stopRenewing.Token;
        var interval = _options.LeaseDuration / 3;
        var leaseMs = (long)_options.LeaseDuration.TotalMilliseconds;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var jobs = _running.Values.Where(r => !r.HandedBack).Select(r => r.Job).ToList();
            try
            {
                foreach (var lost in await _storage.RenewAsync(_queue, jobs, Now() + leaseMs))
                {
                    if (_running.TryGetValue(Key(lost), out var run) && ReferenceEquals(run.Job, lost))
                    {
                        QueueLog.LeaseLost(_logger, _queue, lost.Id);
                        run.LeaseLost = true;
                        run.Cancel();
                    }
                }
            }
            catch (Exception e)
            {
                QueueLog.LoopFailed(_logger, e, "renew", _queue);
            }
        }
    }

    private sealed class RunningJob(FetchedJob job, CancellationTokenSource cancellation)
    {
        public FetchedJob Job { get; } = job;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public volatile bool LeaseLost;

        public int Ended;

        /// <summary>Cancels the handler; a no-op once the job has ended and its source is disposed.</summary>
        public void Cancel()
        {
            try
            {
                Cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Finished meanwhile.
            }
        }

        public volatile bool HandedBack;

        /// <summary>The dependency this job probes for its held tenant, or null.</summary>
        public string? Probe { get; init; }

        /// <summary>Set when the job failed because a dependency of its tenant is unreachable.</summary>
        public (string Dependency, string Cause)? Failure { get; set; }

        /// <summary>Failed before running (authentication, no handler): says nothing about the tenant's dependencies.</summary>
        public bool Rejected { get; set; }
    }
}

/// <summary>Delay before the next attempt.</summary>
internal static class Backoff
{
    /// <param name="random">A value in [0, 1) used for jitter.</param>
    public static TimeSpan Delay(QueueOptions options, int attempt, double random)
    {
        if (options.Backoff == BackoffKind.Fixed)
        {
            return options.BackoffDelay;
        }
        var exponent = Math.Min(Math.Max(attempt - 1, 0), 30);
        var ms = Math.Min(options.BackoffDelay.TotalMilliseconds * Math.Pow(2, exponent), options.MaxBackoffDelay.TotalMilliseconds);
        // "Equal jitter": keeps at least half the delay, so retries still back off, while spreading a burst of failures.
        return TimeSpan.FromMilliseconds(options.BackoffJitter ? ms * (0.5 + (random / 2)) : ms);
    }
}
