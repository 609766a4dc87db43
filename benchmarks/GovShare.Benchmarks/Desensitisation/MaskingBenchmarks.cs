using Apache.Arrow;
using Apache.Arrow.Types;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Desensitisation;

namespace GovShare.Benchmarks.Desensitisation;

/// <summary>Builds a masker or fails loudly: a benchmark of a refused rule would measure nothing.</summary>
internal static class Maskers
{
    public static ColumnMasker Create(MaskingRule rule, IArrowType type, PseudonymKey? key = null) =>
        ColumnMasker.TryCreate(rule, type, key, out var errors) ?? throw new InvalidOperationException(string.Join(" ", errors));

    public static int Length(IArrowArray array)
    {
        var length = array.Length;
        array.Dispose();
        return length;
    }
}

/// <summary>
/// The text maskings of an 18-character ID number column against a plain copy of the column.
/// KeepEnds twice: the ID numbers as they are (all ASCII: the byte path, offsets kept) and with
/// one non-ASCII value among them (the character-by-character path every value took before).
/// </summary>
[MemoryDiagnoser]
public class TextMaskingBenchmarks
{
    private IArrowArray _ids = null!;
    private IArrowArray _idsOneNonAscii = null!;
    private ColumnMasker _keepEnds = null!;
    private ColumnMasker _redact = null!;
    private ColumnMasker _pseudonym = null!;

    [Params(1_024, 65_536)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ids = People.Batch(Rows).Column(0);
        var mixed = new StringArray.Builder();
        var ids = (StringArray)_ids;
        for (var i = 0; i < ids.Length; i++)
        {
            mixed.Append(i == 0 ? "身份证号码待补" : ids.GetString(i));
        }

        _idsOneNonAscii = mixed.Build();
        _keepEnds = Maskers.Create(MaskingRule.KeepEnds(6, 4), StringType.Default);
        _redact = Maskers.Create(MaskingRule.Redact, StringType.Default);
        _pseudonym = Maskers.Create(MaskingRule.Pseudonym, StringType.Default, PseudonymKey.Derive(new byte[32], "govshare:dept/530100/11530100MB00000118"));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _keepEnds.Dispose();
        _redact.Dispose();
        _pseudonym.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int PlainCopy() => Maskers.Length(People.Copy(_ids));

    [Benchmark]
    public int KeepEnds() => Maskers.Length(_keepEnds.Mask(_ids));

    [Benchmark]
    public int KeepEnds_OneNonAsciiValue() => Maskers.Length(_keepEnds.Mask(_idsOneNonAscii));

    [Benchmark]
    public int Redact() => Maskers.Length(_redact.Mask(_ids));

    [Benchmark]
    public int Pseudonym() => Maskers.Length(_pseudonym.Mask(_ids));
}

/// <summary>Generalising a date32 column to the year or month against a plain copy.</summary>
[MemoryDiagnoser]
public class DateMaskingBenchmarks
{
    private IArrowArray _dates = null!;
    private ColumnMasker _year = null!;
    private ColumnMasker _month = null!;

    [Params(1_024, 65_536)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dates = People.Batch(Rows).Column(2);
        _year = Maskers.Create(MaskingRule.GeneraliseDate(DatePrecision.Year), Date32Type.Default);
        _month = Maskers.Create(MaskingRule.GeneraliseDate(DatePrecision.Month), Date32Type.Default);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _year.Dispose();
        _month.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int PlainCopy() => Maskers.Length(People.Copy(_dates));

    [Benchmark]
    public int GeneraliseToYear() => Maskers.Length(_year.Mask(_dates));

    [Benchmark]
    public int GeneraliseToMonth() => Maskers.Length(_month.Mask(_dates));
}

/// <summary>Bucketing a float64 income column into ranges against a plain copy.</summary>
[MemoryDiagnoser]
public class NumberMaskingBenchmarks
{
    private IArrowArray _incomes = null!;
    private ColumnMasker _bucket = null!;

    [Params(1_024, 65_536)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _incomes = People.Batch(Rows).Column(3);
        _bucket = Maskers.Create(MaskingRule.Bucket(10_000, 30_000, 50_000, 100_000, 500_000), DoubleType.Default);
    }

    [GlobalCleanup]
    public void Cleanup() => _bucket.Dispose();

    [Benchmark(Baseline = true)]
    public int PlainCopy() => Maskers.Length(People.Copy(_incomes));

    [Benchmark]
    public int Bucket() => Maskers.Length(_bucket.Mask(_incomes));
}
