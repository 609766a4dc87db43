using System.Diagnostics;
using System.Text.Json;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>What a replay did: records applied, records without a replayer or after-image, and the new watermark.</summary>
public sealed record ReplayResult(long From, long AppliedThrough, int Replayed, int Skipped, TimeSpan Took);

/// <summary>
/// Brings the node's state up to its change log at start: every change-log record newer than the
/// state's watermark (<see cref="IStateStore.AppliedThrough"/>) is handed to the feature that owns
/// its entity (<see cref="IStateReplayer"/>), and the watermark moves in the same transaction.
/// After a crash these are the acknowledged changes the database lost; on an empty state (set
/// aside, or <c>govshare node rebuild-state</c>) it is the whole log. Runs before the node serves.
/// </summary>
public sealed class ChangeLogReplay(NodeDataFolder data, LogWriter log, IEnumerable<IStateReplayer> replayers, ILogger<ChangeLogReplay> logger)
{
    // Records per transaction: large enough that a full rebuild is not one commit per record.
    private const int Batch = 500;

    /// <summary>What the replay at open did (null before it ran).</summary>
    public ReplayResult? Last { get; private set; }

    public ReplayResult Run()
    {
        var state = data.State;
        if (data.StateSetAside is { } aside)
        {
            LogsDiagnostics.StateSetAside(logger, aside);
        }

        var byPrefix = replayers.ToList();
        var from = state.AppliedThrough;
        var durable = log.DurableSequence(LogKind.Change);
        var clock = Stopwatch.StartNew();
        if (!state.ReplaysChangeLog)
        {
            // Shared, durable state (PostgreSQL): a record after this replica's watermark was logged
            // but never committed. Replaying its after-image could undo a later change another
            // replica made to the same entity, so it is only reported (Kernel/README.md).
            var uncommitted = durable > from ? (int)Math.Min(int.MaxValue, durable - from) : 0;
            if (uncommitted > 0)
            {
                LogsDiagnostics.StateNotCommitted(logger, uncommitted, from + 1, durable);
            }

            return Last = new ReplayResult(from, from, 0, uncommitted, clock.Elapsed);
        }

        int replayed = 0, skipped = 0;
        var pending = new List<(long Sequence, LogRecord? Record)>(Batch);

        void Flush()
        {
            if (pending.Count == 0)
            {
                return;
            }

            state.Write(() =>
            {
                foreach (var (sequence, record) in pending)
                {
                    var replayer = record?.Entity is { } entity ? byPrefix.FirstOrDefault(r => entity.StartsWith(r.EntityPrefix, StringComparison.Ordinal)) : null;
                    if (replayer is not null && record!.Diff is { } diff
                        && replayer.Replay(new StateRecord(sequence, Kebab(record.Kind), record.Entity!, record.Caller, record.Time, diff)))
                    {
                        replayed++;
                    }
                    else
                    {
                        skipped++;
                    }

                    state.MarkApplied(sequence);
                }
            });
            pending.Clear();
        }

        // Only what the writer has found durable at start: recovery has cut any torn tail already.
        foreach (var entry in log.Store.ReadEntries(LogKind.Change, from + 1, durable))
        {
            pending.Add((entry.Sequence, entry.Record));
            if (pending.Count == Batch)
            {
                Flush();
            }
        }

        Flush();
        var result = new ReplayResult(from, state.AppliedThrough, replayed, skipped, clock.Elapsed);
        Last = result;
        if (result.Replayed + result.Skipped > 0)
        {
            LogsDiagnostics.StateReplayed(logger, result.Replayed, result.Skipped, result.From, result.AppliedThrough, (long)result.Took.TotalMilliseconds);
        }

        return result;
    }

    private static string Kebab(ExchangeKind kind) => JsonSerializer.Serialize(kind).Trim('"');
}
