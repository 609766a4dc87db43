using Apache.Arrow.Ipc;
using BenchmarkDotNet.Attributes;
using GovShare.Contract;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// A large pull's work in the node without the network: a stored version read back (each block's
/// SHA-256 checked, bodies reused), the address dropped, ID number and birth date masked, and
/// the result encoded as an Arrow stream (to <see cref="Stream.Null"/>), one thread. Baseline:
/// the stored file copied as it is, which is what the raw Kestrel file server does before TLS.
/// The two pulls differ only in the masked columns' memory: fresh arrays per batch, or the
/// written batch's arrays reused (<see cref="ItemProjection.Recycle"/>, as the pull does).
/// </summary>
[MemoryDiagnoser]
public class StoredPullBenchmarks : IDisposable
{
    private string _path = "";
    private NodeDataFolder? _folder;
    private DatasetStore? _store;
    private DatasetVersion? _version;

    [Params(1_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _path = Directory.CreateTempSubdirectory("govshare-bench-pull-").FullName;
        _folder = NodeDataFolder.Open(_path);
        _store = new DatasetStore(_folder);
        await using var push = await _store.BeginPushAsync("530100000001", PushMode.Replace, People.Schema, ExchangeId.New(TimeProvider.System));
        for (var start = 0; start < Rows; start += 65_536)
        {
            using var batch = People.Batch(Math.Min(65_536, Rows - start), start);
            await push.WriteAsync(batch);
        }

        _version = await push.CommitAsync();
    }

    [Benchmark(Baseline = true)]
    public async Task<long> StoredFileCopied()
    {
        long bytes = 0;
        foreach (var segment in _version!.Segments)
        {
            await using var file = File.OpenRead(Path.Combine(_store!.Folder, segment.File));
            await file.CopyToAsync(Stream.Null);
            bytes += file.Length;
        }

        return bytes;
    }

    [Benchmark]
    public Task<long> Pull_FreshMaskedArrays() => PullAsync(recycle: false);

    [Benchmark]
    public Task<long> Pull_MaskedArraysReused() => PullAsync(recycle: true);

    private async Task<long> PullAsync(bool recycle)
    {
        await using var reader = _store!.OpenRead(_version!);
        var schema = await reader.ReadSchemaAsync();
        using var projection = ItemProjection.Create(schema,
        [
            new ProjectedItem("公民身份号码", "id_number", MaskingRule.KeepEnds(6, 4)),
            new ProjectedItem("姓名", "name", MaskingRule.None),
            new ProjectedItem("出生日期", "birth_date", MaskingRule.GeneraliseDate(DatePrecision.Year)),
            new ProjectedItem("Annual Income", "income", MaskingRule.None),
        ]);
        using var writer = new ArrowStreamWriter(Stream.Null, projection.OutputSchema, leaveOpen: true);
        long rows = 0;
        await foreach (var batch in reader.ReadBatchesAsync(recycleBodies: true))
        {
            using (batch)
            {
                using var output = projection.Project(batch);
                await writer.WriteRecordBatchAsync(output);
                if (recycle)
                {
                    projection.Recycle(output);
                }

                rows += output.Length;
            }
        }

        await writer.WriteEndAsync();
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
