using System.Diagnostics;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Logs;

/// <summary>Aggregates that tail the logs (<see cref="ChainAggregates{T}"/>), brought up to date off the request path by <see cref="AggregateWarmup"/>.</summary>
public interface ILogAggregates
{
    /// <summary>What they are, for the log.</summary>
    string What { get; }

    /// <summary>The lock a reader holds while it folds and reads them; <see cref="LogAggregates.CatchUp"/> holds every set's at once.</summary>
    Lock Lock { get; }

    /// <summary>Their per-chain aggregates, one set per log they tail.</summary>
    IReadOnlyList<ITailedAggregates> Tailed { get; }

    /// <summary>Whether the warm-up's first fold is still running (a request then gets 503 rather than waiting for it).</summary>
    FirstFold FirstFold { get; }

    /// <summary>Writes each aggregate that moved since its last save.</summary>
    void Save();
}

/// <summary>
/// The warm-up's first fold at start as requests see it. Until it ends — minutes when there is no
/// saved file (the first start after an upgrade, a deleted file) at 10 million records — a request
/// waits at most <see cref="Patience"/> and is then refused with <see cref="AggregatesNotReadyException"/>
/// (503 <c>aggregates-rebuilding</c>, Retry-After) instead of queueing on the lock for minutes; a
/// node that is stopping before the fold ended refuses at once, so a stop never waits for a
/// request that waits for the fold. Without a warm-up (tools, benchmarks) it is over from the start
/// and a request folds what it needs itself.
/// </summary>
public sealed class FirstFold
{
    private volatile TaskCompletionSource _over = Over();
    private volatile bool _stopped;

    /// <summary>How long a request waits for a first fold under way before it is refused: long enough for a small log's fold (milliseconds) on a loaded machine (<see cref="LogOptions.AggregatePatience"/>).</summary>
    public TimeSpan Patience { get; internal set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether the first fold is running now.</summary>
    public bool Running => !_over.Task.IsCompleted;

    internal void Begin()
    {
        _stopped = false;
        _over = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    internal void End() => _over.TrySetResult();

    /// <summary>The node stops before the first fold ended: refuse from now on (the aggregates are not up to date, and a stop must not wait for a request folding the rest).</summary>
    internal void Stop()
    {
        if (_over.Task.IsCompleted)
        {
            return;
        }

        _stopped = true;
        _over.TrySetResult();
    }

    private static TaskCompletionSource Over()
    {
        var over = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        over.SetResult();
        return over;
    }

    /// <summary>Returns once the aggregates may be read; throws <see cref="AggregatesNotReadyException"/> when the first fold still runs after <see cref="Patience"/> or was stopped.</summary>
    public void Await(string what)
    {
        if (!_over.Task.Wait(Patience) || _stopped)
        {
            throw new AggregatesNotReadyException(what);
        }
    }
}

/// <summary>The aggregates a request needs are still being brought up to date at start (see <see cref="FirstFold"/>): answered 503 with Retry-After.</summary>
public sealed class AggregatesNotReadyException(string what)
    : Exception($"The {what} are being brought up to date from the logs after the start; try again shortly.")
{
    /// <summary>What a client should wait before it asks again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    public string What { get; } = what;
}

/// <summary>Several <see cref="ILogAggregates"/> brought up to date together.</summary>
public static class LogAggregates
{
    /// <summary>
    /// Folds what is new in every chain into every set with <b>one read</b> of each chain's new
    /// entries (<see cref="LogTail"/>), holding every set's lock (taken in the order given; a request
    /// takes one lock only, so this cannot deadlock with it). Returns the entries folded per set.
    /// </summary>
    public static long[] CatchUp(IReadOnlyList<ILogAggregates> sets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sets);
        var entered = 0;
        try
        {
            foreach (var set in sets)
            {
                set.Lock.Enter();
                entered++;
            }

            var before = sets.Select(s => s.Tailed.Sum(t => t.Folded)).ToArray();
            LogTail.CatchUp(sets.SelectMany(s => s.Tailed), cancellationToken);
            return [.. sets.Select((s, i) => s.Tailed.Sum(t => t.Folded) - before[i])];
        }
        finally
        {
            for (var i = entered - 1; i >= 0; i--)
            {
                sets[i].Lock.Exit();
            }
        }
    }
}

/// <summary>
/// Brings every <see cref="ILogAggregates"/> up to date once the node has started (logs open and
/// recovered, state replayed), then every few seconds, so no request pays for the first start
/// after an upgrade (no saved file: the whole log is folded, minutes at 10 million records) nor
/// for the traffic since the last request: a request only folds what became durable in the last
/// seconds. Each pass reads each chain's new entries once for every aggregate (<see cref="LogAggregates.CatchUp"/>).
/// A request arriving during the first fold is refused with 503 (<see cref="FirstFold"/>).
/// Stopping cancels a fold between two entries: what was folded is saved at dispose and the
/// next start goes on from there, so a stop never waits for a rebuild.
/// </summary>
internal sealed class AggregateWarmup(
    IEnumerable<ILogAggregates> aggregates, IHostApplicationLifetime lifetime, IOptions<LogOptions> options, ILogger<AggregateWarmup> logger) : NodeBackgroundService
{
    /// <summary>
    /// How often the aggregates are folded after the first pass when the writer hands over fewer
    /// than <see cref="GatherEntries"/> (other replicas' chains are only seen this way). Cheap when
    /// nothing is new: one durable-sequence read per chain. One periodic timer for the loop's life.
    /// </summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A pass starts as soon as a follower holds this many entries (<see cref="LogFollower.WhenHeld"/>),
    /// else at the next <see cref="Interval"/> tick. Held entries must not live long on a busy node:
    /// a young-generation collection comes every ~180 one-row pulls' allocations, and entries held
    /// across it are copied and promoted, which lengthened every pause (one-row pulls: p99 1.96 to 3.5
    /// times the durable baseline's with a 100 ms cadence; benchmarks/results/history.md). A count
    /// bounds what is allocated while they are held whatever the traffic, as the former 10-ms gather
    /// did at ~5,000 pulls a second (~50 entries), and needs no timer per pass: with that gather's
    /// Task.Delay (and the 100-ms delay armed and cancelled after it) the runtime's timer thread woke
    /// ~420 times a second under one-row pulls, ~96 without (issue 20,
    /// benchmarks/results/profile-small-exchanges.txt, fix/followers11).
    /// A quiet node's entries wait for the tick, when few are allocated meanwhile.
    /// </summary>
    internal const int GatherEntries = 64;

    private readonly IReadOnlyList<ILogAggregates> _aggregates = [.. aggregates];

    private LogFollower[]? _followers;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the server listens (hosted services start first): no request may fold the whole log itself under the lock.
        foreach (var aggregate in _aggregates)
        {
            aggregate.FirstFold.Patience = options.Value.AggregatePatience;
            aggregate.FirstFold.Begin();
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            await WarmUpAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var aggregate in _aggregates)
            {
                aggregate.FirstFold.Stop();
            }
        }
    }

    private async Task WarmUpAsync(CancellationToken stoppingToken)
    {
        // After every hosted service started (the logs' recovery, the state replay), never ahead of them.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var first = true;
        using var interval = new PeriodicTimer(Interval);
        Task<bool>? tick = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!await PassAsync(first, stoppingToken).ConfigureAwait(false))
            {
                return;
            }

            first = false;
            try
            {
                tick = await NextAsync(interval, tick, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Returns when a follower holds <see cref="GatherEntries"/>, or at the next tick of
    /// <paramref name="interval"/> (the other replicas' chains, a quiet node): the tick still
    /// pending, to wait on at the next call (a periodic timer takes one wait at a time), or null.
    /// </summary>
    private async Task<Task<bool>?> NextAsync(PeriodicTimer interval, Task<bool>? tick, CancellationToken stoppingToken)
    {
        // The followers are set when the aggregates are made, so they are looked up once.
        var followers = _followers ??= [.. _aggregates.SelectMany(a => a.Tailed).Select(t => t.Follower).OfType<LogFollower>()];
        foreach (var follower in followers)
        {
            // On a busy node the writer handed enough over during the last pass: no wait for a pass that starts at once anyway.
            if (follower.WhenHeld(GatherEntries).IsCompleted)
            {
                stoppingToken.ThrowIfCancellationRequested();
                return tick;
            }
        }

        tick ??= interval.WaitForNextTickAsync(stoppingToken).AsTask();
        await Task.WhenAny([tick, .. followers.Select(f => f.WhenHeld(GatherEntries))]).ConfigureAwait(false);
        stoppingToken.ThrowIfCancellationRequested();
        return tick.IsCompleted ? null : tick;
    }

    /// <summary>The aggregates' names for a log message (made only when one is written, not at every pass).</summary>
    private string What() => string.Join(" and ", _aggregates.Select(a => a.What));

    /// <summary>One fold of every aggregate with one read per chain, on a pool thread (it is CPU and disk work); false when stopping.</summary>
    private async Task<bool> PassAsync(bool first, CancellationToken stoppingToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (first)
        {
            foreach (var aggregate in _aggregates)
            {
                LogsDiagnostics.AggregateWarmupStarted(logger, aggregate.What);
            }
        }

        try
        {
            var folded = await Task.Run(() => LogAggregates.CatchUp(_aggregates, stoppingToken), stoppingToken).ConfigureAwait(false);
            if (first)
            {
                for (var i = 0; i < _aggregates.Count; i++)
                {
                    // Saved now, not only every 10,000 entries or at stop: a crash after a rebuild does not rebuild again.
                    await Task.Run(_aggregates[i].Save, stoppingToken).ConfigureAwait(false);
                    LogsDiagnostics.AggregateWarmedUp(logger, _aggregates[i].What, folded[i], (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    _aggregates[i].FirstFold.End();
                }
            }

            return true;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            LogsDiagnostics.AggregateWarmupStopped(logger, What(), (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return false;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or LogUnavailableException)
        {
            // A log that cannot be read now: requests fold themselves and report it as they always did; try again at the next pass.
            LogsDiagnostics.AggregateWarmupFailed(logger, e, What());
            foreach (var aggregate in _aggregates)
            {
                aggregate.FirstFold.End();
            }

            return true;
        }
    }
}
