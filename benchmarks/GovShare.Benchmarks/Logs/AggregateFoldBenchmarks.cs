using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Evaluation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// What folding costs per record, the exchange-id table included: <see cref="Records"/> successful pulls with
/// distinct ids in the node's own format, over 14 days (so the 7-day window forgets ids as the days go by),
/// read from a real exchange log and parsed once in the setup (as the writer's hand-over gives them). Each
/// benchmark folds all of them into a new aggregate. The baseline is the definition over the same records in
/// memory, <see cref="LogStatistics.Compute"/> (what a full scan computes once it has read the log; it keeps
/// every id of the history in per-bucket sets, where the aggregates keep a week's in one flat table).
/// </summary>
[MemoryDiagnoser]
public class AggregateFoldBenchmarks
{
    private string _folder = "";
    private List<LogEntry> _entries = [];

    [Params(200_000)]
    public int Records { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-fold-" + Guid.NewGuid().ToString("N"));
        using var data = NodeDataFolder.Open(Path.Combine(_folder, "data"));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await using (var writer = new LogWriter(data, "530100", key, new LogOptions(), TimeProvider.System))
        {
            var random = new Random(21);
            var departments = Enumerable.Range(10, 70).Select(i => CreditCode.Complete($"11530100MB00000{i}")).ToArray();
            var start = new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.FromHours(8));
            var step = TimeSpan.FromDays(14) / Records;
            const int Batch = 5_000;
            for (var done = 0; done < Records; done += Batch)
            {
                await Task.WhenAll(Enumerable.Range(done, Math.Min(Batch, Records - done)).Select(i => writer.AppendAsync(LogKind.Exchange, new LogRecord
                {
                    ExchangeId = HistoryRun.NodeFormatId(i, start + (step * i)),
                    Time = start + (step * i),
                    Caller = $"govshare:dept/530100/{departments[random.Next(0, 50)]}",
                    Kind = ExchangeKind.Pull,
                    ResourceCode = $"101001/{random.Next(1, 40):D6}",
                    Provider = departments[random.Next(50, 70)],
                    Purpose = "social-assistance",
                    Rows = random.Next(1, 1000),
                    Bytes = random.Next(100, 100_000),
                    Status = 200,
                })));
            }

            _entries = [.. writer.Store.ReadEntries(LogKind.Exchange, 1, writer.DurableSequence(LogKind.Exchange))];
        }

        // Parsed once here, as the hand-over shares one parsed record between the aggregates.
        _entries.ForEach(e => _ = e.Record);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Baseline = true)]
    public int FullScanInMemory() => LogStatistics.Compute(
        _entries.Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!),
        StatisticsDimension.Department,
        StatisticsPeriod.Month,
        LogStatistics.ChinaStandardTime).Count;

    [Benchmark]
    public long FoldStatistics()
    {
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in _entries)
        {
            aggregate.Fold(entry);
        }

        return aggregate.Sequence;
    }

    [Benchmark]
    public long FoldEvaluation()
    {
        var aggregate = new EvaluationAggregate();
        foreach (var entry in _entries)
        {
            aggregate.Fold(entry);
        }

        return aggregate.Sequence;
    }
}
