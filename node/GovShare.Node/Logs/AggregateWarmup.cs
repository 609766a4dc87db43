using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>Aggregates that tail the logs (<see cref="ChainAggregates{T}"/>), brought up to date off the request path by <see cref="AggregateWarmup"/>.</summary>
public interface ILogAggregates
{
    /// <summary>What they are, for the log.</summary>
    string What { get; }

    /// <summary>
    /// Loads (or rebuilds) every chain's aggregate and folds what is durable now, under the same
    /// lock as a request; returns how many entries were folded. Cancelled between two entries.
    /// </summary>
    long CatchUp(CancellationToken cancellationToken);

    /// <summary>Writes each aggregate that moved since its last save.</summary>
    void Save();
}

/// <summary>
/// Brings every <see cref="ILogAggregates"/> up to date once the node has started (logs open and
/// recovered, state replayed), then every few seconds, so no request pays for the first start
/// after an upgrade (no saved file: the whole log is folded, minutes at 10 million records) nor
/// for the traffic since the last request: a request only folds what became durable in the last
/// seconds. A request arriving during the first fold waits for it (it would have done the same
/// work). Stopping cancels a fold between two entries: what was folded is saved at dispose and the
/// next start goes on from there, so a stop never waits for a rebuild.
/// </summary>
internal sealed class AggregateWarmup(
    IEnumerable<ILogAggregates> aggregates, IHostApplicationLifetime lifetime, ILogger<AggregateWarmup> logger) : BackgroundService
{
    /// <summary>How often the aggregates are folded after the first pass (cheap when nothing is new: one durable-sequence read per chain).</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
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
        while (!stoppingToken.IsCancellationRequested)
        {
            foreach (var aggregate in aggregates)
            {
                if (!await PassAsync(aggregate, first, stoppingToken).ConfigureAwait(false))
                {
                    return;
                }
            }

            first = false;
            try
            {
                await Task.Delay(Interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One fold of one aggregate, on a pool thread (it is CPU and disk work); false when stopping.</summary>
    private async Task<bool> PassAsync(ILogAggregates aggregate, bool first, CancellationToken stoppingToken)
    {
        var clock = Stopwatch.StartNew();
        if (first)
        {
            LogsDiagnostics.AggregateWarmupStarted(logger, aggregate.What);
        }

        try
        {
            var folded = await Task.Run(() => aggregate.CatchUp(stoppingToken), stoppingToken).ConfigureAwait(false);
            if (first)
            {
                // Saved now, not only every 10,000 entries or at stop: a crash after a rebuild does not rebuild again.
                await Task.Run(aggregate.Save, stoppingToken).ConfigureAwait(false);
                LogsDiagnostics.AggregateWarmedUp(logger, aggregate.What, folded, clock.ElapsedMilliseconds);
            }

            return true;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            LogsDiagnostics.AggregateWarmupStopped(logger, aggregate.What, clock.ElapsedMilliseconds);
            return false;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or LogUnavailableException)
        {
            // A log that cannot be read now: requests report it as they always did; try again at the next pass.
            LogsDiagnostics.AggregateWarmupFailed(logger, e, aggregate.What);
            return true;
        }
    }
}
