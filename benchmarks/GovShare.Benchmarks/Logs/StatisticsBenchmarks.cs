using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// Answering <c>GET /v1/stats</c> (department × month, the widest question) over a real
/// exchange-log chain of <see cref="Records"/> records spread over a year. The baseline is what
/// the endpoint did before: read every durable entry and <see cref="LogStatistics.Compute"/>.
/// <see cref="Incremental"/> is the running aggregate answering with nothing new to fold (the
/// steady state: requests between exchanges fold only what was appended since);
/// <see cref="StartFromFile"/> is a start: read the persisted aggregate, check the one entry its
/// header names (a seek to where it begins, or a decompression up to it when its segment is
/// archived), answer. The same at 10 million records: <see cref="HistoryRun"/>.
/// </summary>
[MemoryDiagnoser]
public class StatisticsBenchmarks
{
    private string _folder = "";
    private NodeDataFolder _data = null!;
    private ECDsa _key = null!;
    private LogWriter _writer = null!;
    private ExchangeStatistics _statistics = null!;

    /// <summary>Exchange records in the log.</summary>
    [Params(100_000)]
    public int Records { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-stats-" + Guid.NewGuid().ToString("N"));
        _data = NodeDataFolder.Open(Path.Combine(_folder, "data"));
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // 8 MiB segments (default 64 MiB) so the log, like a long-lived node's, is mostly archived segments.
        _writer = new LogWriter(_data, "530100", _key, new LogOptions { SegmentBytes = 8L * 1024 * 1024 }, TimeProvider.System);
        var random = new Random(20);
        var departments = Enumerable.Range(10, 70).Select(i => CreditCode.Complete($"11530100MB00000{i}")).ToArray();
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.FromHours(8));
        const int Batch = 5_000;
        for (var done = 0; done < Records; done += Batch)
        {
            await Task.WhenAll(Enumerable.Range(done, Math.Min(Batch, Records - done)).Select(i => _writer.AppendAsync(LogKind.Exchange, new LogRecord
            {
                // The node's own id format, as a node's aggregates hold them (HistoryRun.NodeFormatId).
                ExchangeId = HistoryRun.NodeFormatId(i, start + TimeSpan.FromMinutes(i * 5.0)),
                Time = start + TimeSpan.FromMinutes(i * 5.0),
                Caller = $"govshare:dept/530100/{departments[random.Next(0, 50)]}",
                Kind = ExchangeKind.Pull,
                ResourceCode = $"101001/{random.Next(1, 40):D6}",
                Provider = departments[random.Next(50, 70)],
                Items = ["id_number", "name"],
                Purpose = "social-assistance",
                Rows = random.Next(1, 1000),
                Bytes = random.Next(100, 100_000),
                Status = 200,
                DurationMs = 2,
            })));
        }

        _statistics = new ExchangeStatistics(_writer);
        _statistics.Query(StatisticsDimension.Department, StatisticsPeriod.Month);
        _statistics.Save();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _statistics.Dispose();
        await _writer.DisposeAsync();
        _data.Dispose();
        _key.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public int FullScan() => LogStatistics.Compute(
        _writer.Store.ReadEntries(LogKind.Exchange, 1, _writer.DurableSequence(LogKind.Exchange)).Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!),
        StatisticsDimension.Department,
        StatisticsPeriod.Month,
        LogStatistics.ChinaStandardTime).Count;

    [Benchmark]
    public int Incremental() => _statistics.Query(StatisticsDimension.Department, StatisticsPeriod.Month).Count;

    [Benchmark]
    public int StartFromFile()
    {
        using var started = new ExchangeStatistics(_writer);
        return started.Query(StatisticsDimension.Department, StatisticsPeriod.Month).Count;
    }
}
