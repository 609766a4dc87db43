using System.Globalization;
using System.Security.Cryptography;
using GovShare.Node.Evaluation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>aggregate-cpu [records] [passes]</c>: what the log tail's catch-up costs per one-row pull record, by
/// thread CPU time and bytes allocated: the statistics and the evaluation aggregate each fold every record,
/// as <see cref="LogTail"/> offers them. The records have the load benchmark's shape (successful pulls of one
/// resource of one provider by a handful of callers, a fresh exchange id in the node's format each, the time
/// advancing 2 ms a record) and are parsed once before the pass, as the writer's hand-over gives them. Each
/// pass folds them into new aggregates, so the exchange-id tables grow from empty as in a fresh node.
/// Alternate processes of two builds to compare (A B A B).
/// </summary>
public static class AggregateCpuRun
{
    public static int Run(string[] args)
    {
        var records = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
        var passes = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        var entries = Entries(records);
        for (var pass = 0; pass <= passes; pass++)
        {
            var statistics = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
            var evaluation = new EvaluationAggregate();
            var (ns, bytes, _) = ThreadCost.Measure(entries.Count, i =>
            {
                statistics.Fold(entries[i]);
                evaluation.Fold(entries[i]);
                return 0;
            });
            // Pass 0 warms the JIT up (tiered compilation): not reported.
            if (pass > 0)
            {
                Console.WriteLine(FormattableString.Invariant(
                    $"aggregate-cpu pass {pass}, load {ThreadCost.Load()}: {ns:F0} ns thread CPU, {bytes:F0} B allocated per record folded into both aggregates ({statistics.Sequence + evaluation.Records})"));
            }
        }

        return 0;
    }

    // Written by the node's log writer to a real log and read back (as AggregateFoldBenchmarks does), then parsed once.
    private static List<LogEntry> Entries(int count)
    {
        var callers = Enumerable.Range(1, 5)
            .Select(i => $"govshare:dept/530100/{CreditCode.Complete($"11530100MB000002{i}")}")
            .ToArray();
        var provider = CreditCode.Complete("11530100MB0000011");
        var start = new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.FromHours(8));
        var folder = Path.Combine(Path.GetTempPath(), "govshare-aggregate-cpu-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var data = NodeDataFolder.Open(folder);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var writer = new LogWriter(data, "530100", key, new LogOptions(), TimeProvider.System);
            try
            {
                return Written(writer, count, callers, provider, start);
            }
            finally
            {
                writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static List<LogEntry> Written(LogWriter writer, int count, string[] callers, string provider, DateTimeOffset start)
    {
        const int Batch = 5_000;
        for (var done = 0; done < count; done += Batch)
        {
            Task.WhenAll(Enumerable.Range(done, Math.Min(Batch, count - done)).Select(i => writer.AppendAsync(LogKind.Exchange, new LogRecord
            {
                ExchangeId = HistoryRun.NodeFormatId(i, start + TimeSpan.FromMilliseconds(2L * i)),
                Time = start + TimeSpan.FromMilliseconds(2L * i),
                Caller = callers[i % callers.Length],
                Kind = ExchangeKind.Pull,
                ResourceCode = "101001/000001",
                Provider = provider,
                Items = ["id_number", "name"],
                Purpose = "social-assistance",
                Rows = 1,
                Bytes = 180,
                Status = 200,
                DurationMs = 1,
            }))).GetAwaiter().GetResult();
        }

        List<LogEntry> entries = [.. writer.Store.ReadEntries(LogKind.Exchange, 1, writer.DurableSequence(LogKind.Exchange))];
        entries.ForEach(e => _ = e.Record);
        return entries;
    }
}
