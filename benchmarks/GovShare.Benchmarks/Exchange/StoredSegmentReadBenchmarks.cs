using BenchmarkDotNet.Attributes;
using GovShare.Contract;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// Reading a stored version back, as a pull does: the baseline is a segment stored without its
/// blocks (older data folders: every batch validated structurally, the file's SHA-256 compared at
/// its end); against it, the same file read with its blocks (each block's SHA-256 checked before
/// its batches are handed out, then no structural re-validation) and with the pull's reuse of
/// batch bodies.
/// </summary>
[MemoryDiagnoser]
public class StoredSegmentReadBenchmarks : IDisposable
{
    private string _path = "";
    private NodeDataFolder? _folder;
    private DatasetStore? _store;
    private DatasetVersion? _version;
    private DatasetVersion? _withoutBlocks;

    [Params(1_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _path = Directory.CreateTempSubdirectory("govshare-bench-segments-").FullName;
        _folder = NodeDataFolder.Open(_path);
        _store = new DatasetStore(_folder);
        await using (var push = await _store.BeginPushAsync("530100000001", PushMode.Replace, People.Schema, ExchangeId.New(TimeProvider.System)))
        {
            for (var start = 0; start < Rows; start += 65_536)
            {
                using var batch = People.Batch(Math.Min(65_536, Rows - start), start);
                await push.WriteAsync(batch);
            }

            _version = await push.CommitAsync();
        }

        _withoutBlocks = _version with { Segments = [.. _version.Segments.Select(s => s with { Blocks = null })] };
    }

    [Benchmark(Baseline = true)]
    public Task<long> WithoutBlocks_Validated() => ReadAsync(_withoutBlocks!, recycle: false);

    [Benchmark]
    public Task<long> WithBlocks_VerifiedBeforeUse() => ReadAsync(_version!, recycle: false);

    [Benchmark]
    public Task<long> WithBlocks_BodiesReused() => ReadAsync(_version!, recycle: true);

    private async Task<long> ReadAsync(DatasetVersion version, bool recycle)
    {
        await using var reader = _store!.OpenRead(version);
        long rows = 0;
        await foreach (var batch in reader.ReadBatchesAsync(recycle))
        {
            rows += batch.Length;
            batch.Dispose();
        }

        return rows;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _store?.Dispose();
        _folder?.Dispose();
        if (_path.Length > 0)
        {
            Directory.Delete(_path, recursive: true);
        }

        GC.SuppressFinalize(this);
    }
}
