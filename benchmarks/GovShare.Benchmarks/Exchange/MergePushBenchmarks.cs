using Apache.Arrow;
using BenchmarkDotNet.Attributes;
using GovShare.Contract;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// A one-row change to a dataset of <see cref="Rows"/> rows, made by a merge push
/// (<see cref="MergePush.PublishAsync"/>: the stored segments with the changed row left out, plus
/// a segment of the one upsert), against the baseline a department had before merges: a replace of
/// all <see cref="Rows"/> rows. Both publish a real version in a real store (LiteDB record, fsynced
/// file); the merge's mean includes, amortised, the compaction every <see cref="MergePush.MaxSegments"/>
/// merges and the warm-up's one build of the key index.
/// </summary>
[MemoryDiagnoser]
public class MergePushBenchmarks
{
    private string _folder = "";
    private NodeDataFolder _data = null!;
    private DatasetStore _store = null!;
    private List<RecordBatch> _batches = [];
    private int _change;

    [Params(100_000, 1_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-merge-" + Guid.NewGuid().ToString("N"));
        _data = NodeDataFolder.Open(_folder);
        _store = new DatasetStore(_data);
        _batches = [];
        for (var start = 0; start < Rows; start += 65_536)
        {
            _batches.Add(Unique(People.Batch(Math.Min(65_536, Rows - start), start), start));
        }

        ReplaceAll().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _data.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public async Task<long> ReplaceAll()
    {
        await using var push = await _store.BeginPushAsync("101001/000001", PushMode.Replace, People.Schema, ExchangeId.New(TimeProvider.System));
        foreach (var batch in _batches)
        {
            await push.WriteAsync(batch);
        }

        return (await push.CommitAsync()).Rows;
    }

    [Benchmark]
    public async Task<long> MergeOneRow()
    {
        // Each call changes another existing row (its name), as a department's daily sync would.
        var row = _change++ % Rows;
        var batch = Unique(People.Batch(1, row), row);
        var changes = new MergeChanges(People.Schema, [0]);
        changes.Add(new RecordBatch(People.Schema, [batch.Column(0), new StringArray.Builder().Append("改名" + _change).Build(), batch.Column(2), batch.Column(3), batch.Column(4)], 1), deletes: null);
        return (await MergePush.PublishAsync(_store, "101001/000001", changes, ExchangeId.New(TimeProvider.System))).Version.Rows;
    }

    /// <summary>The batch with an id number unique per row (People's repeat every 10,000 rows), as a key must be.</summary>
    private static RecordBatch Unique(RecordBatch batch, int start)
    {
        var ids = new StringArray.Builder();
        for (var i = 0; i < batch.Length; i++)
        {
            ids.Append(FormattableString.Invariant($"53010219{start + i:D10}"));
        }

        return new RecordBatch(People.Schema, [ids.Build(), .. Enumerable.Range(1, batch.ColumnCount - 1).Select(batch.Column)], batch.Length);
    }
}
