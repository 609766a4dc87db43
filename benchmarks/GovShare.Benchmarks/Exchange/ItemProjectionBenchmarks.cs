using Apache.Arrow;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Pull;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// A pull's column transform per record batch: the baseline passes the four delivered columns
/// through untouched (what a proxy without authorisation would do); the projection resolves,
/// renames and, in the masked case, masks two of them (ID number keep-ends, birth date to year),
/// into fresh arrays per batch or, as a pull does, into the arrays of the batch written before
/// (<see cref="ItemProjection.Recycle"/>).
/// </summary>
[MemoryDiagnoser]
public class ItemProjectionBenchmarks
{
    private static readonly int[] Delivered = [0, 1, 2, 3];
    private RecordBatch _batch = null!;
    private Schema _passThroughSchema = null!;
    private ItemProjection _unmasked = null!;
    private ItemProjection _masked = null!;

    [Params(1_024, 65_536)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _batch = People.Batch(Rows);
        _passThroughSchema = new Schema(Delivered.Select(i => _batch.Schema.GetFieldByIndex(i)), null);
        _unmasked = ItemProjection.Create(_batch.Schema,
        [
            new ProjectedItem("公民身份号码", "id_number", MaskingRule.None),
            new ProjectedItem("姓名", "name", MaskingRule.None),
            new ProjectedItem("出生日期", "birth_date", MaskingRule.None),
            new ProjectedItem("Annual Income", "income", MaskingRule.None),
        ]);
        _masked = ItemProjection.Create(_batch.Schema,
        [
            new ProjectedItem("公民身份号码", "id_number", MaskingRule.KeepEnds(6, 4)),
            new ProjectedItem("姓名", "name", MaskingRule.None),
            new ProjectedItem("出生日期", "birth_date", MaskingRule.GeneraliseDate(DatePrecision.Year)),
            new ProjectedItem("Annual Income", "income", MaskingRule.None),
        ]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _unmasked.Dispose();
        _masked.Dispose();
        _batch.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int PassThrough()
    {
        var output = new RecordBatch(_passThroughSchema, Delivered.Select(_batch.Column), _batch.Length);
        return output.Length;
    }

    [Benchmark]
    public int ProjectUnmasked()
    {
        var output = _unmasked.Project(_batch);
        return output.Length;
    }

    [Benchmark]
    public int ProjectTwoMasked()
    {
        using var output = _masked.Project(_batch);
        return output.Length;
    }

    [Benchmark]
    public int ProjectTwoMasked_Recycled()
    {
        using var output = _masked.Project(_batch);
        _masked.Recycle(output);
        return output.Length;
    }
}
