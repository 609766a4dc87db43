using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// Appending exchange-log records and waiting until they are durable. The baseline writes the
/// same number of bytes per record to a plain file and fsyncs once per round; the
/// <see cref="LogWriter"/> validates, chains (SHA-256 over the previous hash) and serialises each
/// record, and group-commits a round's concurrent appends with one fsync.
/// </summary>
[MemoryDiagnoser]
public class LogAppendBenchmarks
{
    private string _folder = "";
    private NodeDataFolder _data = null!;
    private ECDsa _key = null!;
    private LogWriter _writer = null!;
    private FileStream _plain = null!;
    private byte[] _line = [];
    private LogRecord _record = null!;

    /// <summary>Appends in flight at once (a busy node has many exchanges ending together).</summary>
    [Params(1, 32)]
    public int Concurrent { get; set; }

    /// <summary>The exchange record of a one-row pull, as a busy node appends it (also <see cref="LogWriterCpuRun"/>'s).</summary>
    internal static LogRecord OnePullRecord() => new LogRecord
    {
        ExchangeId = ExchangeId.New(TimeProvider.System).Value,
        Caller = "govshare:dept/530100/11530100MB00000118",
        Kind = ExchangeKind.Pull,
        ResourceCode = "101001/000001",
        Provider = "11530100MB0000011X",
        Items = ["id_number", "name", "birth_date", "income"],
        Purpose = "social-assistance",
        Rows = 1,
        Bytes = 1234,
        Status = 200,
        DurationMs = 2,
    };

    [GlobalSetup]
    public async Task Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-logs-" + Guid.NewGuid().ToString("N"));
        _data = NodeDataFolder.Open(Path.Combine(_folder, "data"));
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _writer = new LogWriter(_data, "530100", _key, new LogOptions(), TimeProvider.System);
        _record = OnePullRecord();

        // The plain line is as long as the records the writer really writes (measured, checkpoints included).
        var before = LogBytes();
        const int Probe = 200;
        await Task.WhenAll(Enumerable.Range(0, Probe).Select(_ => _writer.AppendAsync(LogKind.Exchange, _record)));
        var perRecord = (int)Math.Max(64, (LogBytes() - before) / Probe);
        _line = Encoding.ASCII.GetBytes(new string('x', perRecord - 1) + "\n");
        _plain = new FileStream(Path.Combine(_folder, "plain.log"), FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.None);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _writer.DisposeAsync();
        await _plain.DisposeAsync();
        _data.Dispose();
        _key.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public long PlainAppendFsync()
    {
        for (var i = 0; i < Concurrent; i++)
        {
            _plain.Write(_line);
        }

        _plain.Flush(flushToDisk: true);
        return _plain.Length;
    }

    [Benchmark]
    public async Task<long> LogWriterHashChained()
    {
        if (Concurrent == 1)
        {
            return await _writer.AppendAsync(LogKind.Exchange, _record);
        }

        var appends = new Task<long>[Concurrent];
        for (var i = 0; i < Concurrent; i++)
        {
            appends[i] = _writer.AppendAsync(LogKind.Exchange, _record);
        }

        return (await Task.WhenAll(appends)).Max();
    }

    private long LogBytes() =>
        new DirectoryInfo(Path.Combine(_data.Path, "logs")).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
}
