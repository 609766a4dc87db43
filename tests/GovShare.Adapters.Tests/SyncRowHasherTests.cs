using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Adapters.Tests;

public sealed class SyncRowHasherTests
{
    // Row 0 and row 1 are equal; each later row differs from row 0 in exactly one value (or in
    // which value is null), so each must change the row hash, and only a key change the key hash.
    private static readonly string?[] Codes = ["A1", "A1", "A2", "A1", "A1", "A1", "A1", "A1", "A1", "A1", "A1", "A1", "A1", "A1"];
    private static readonly string?[] Names = ["云南", "云南", "云南", "云南 ", "", null, "云南", "云南", "云南", "云南", "云南", "云南", "云南", "云南"];
    private static readonly int?[] Counts = [5, 5, 5, 5, 5, 5, 6, null, 5, 5, 5, 5, 5, 5];
    private static readonly long?[] Bigs = [1L << 40, 1L << 40, 1L << 40, 1L << 40, 1L << 40, 1L << 40, 1L << 40, 1L << 40, (1L << 40) + 1, 1L << 40, 1L << 40, 1L << 40, 1L << 40, 1L << 40];
    private static readonly double?[] Scores = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.5, 0.5, 0.5, 0.5];
    private static readonly decimal?[] Capitals = [12.34m, 12.34m, 12.34m, 12.34m, 12.34m, 12.34m, 12.34m, 12.34m, 12.34m, 12.34m, 12.35m, 12.34m, 12.34m, 12.34m];
    private static readonly bool?[] Actives = [true, true, true, true, true, true, true, true, true, true, true, false, true, true];
    private static readonly DateOnly D = new(2026, 3, 1);
    private static readonly DateOnly?[] Dates = [D, D, D, D, D, D, D, D, D, D, D, D, D.AddDays(1), D];
    private static readonly DateTimeOffset T = new(2026, 3, 1, 8, 30, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset?[] Times = [T, T, T, T, T, T, T, T, T, T, T, T, T, T.AddTicks(10)];

    [Fact]
    public void Hash_EqualRowsEqual_AnyOneValueChangedOrNulledChangesTheRowHash_OnlyTheKeyChangesTheKeyHash()
    {
        var batch = Batch();
        var hasher = new SyncRowHasher([0]);
        var hashes = Enumerable.Range(0, batch.Length).Select(r => hasher.Hash(batch, r)).ToList();

        Assert.Equal(hashes[0], hashes[1]);
        Assert.Equal(batch.Length - 1, hashes.Skip(1).Select(h => h.Row).Distinct().Count());
        Assert.All(hashes.Skip(3), h => Assert.Equal(hashes[0].Key, h.Key));
        Assert.NotEqual(hashes[0].Key, hashes[2].Key);
    }

    [Fact]
    public void Hash_SlicedArrays_SameHashesAsTheWholeBatch()
    {
        // Arrays with an offset (a batch sliced by a reader) hash their own rows, not the buffer's first.
        var batch = Batch();
        var sliced = new RecordBatch(batch.Schema, batch.Arrays.Select(a => ArrowArrayFactory.Slice(a, 5, 9)), 9);
        var hasher = new SyncRowHasher([0, 1]);

        Assert.Equal(Enumerable.Range(5, 9).Select(r => hasher.Hash(batch, r)), Enumerable.Range(0, 9).Select(r => hasher.Hash(sliced, r)));
    }

    private static RecordBatch Batch()
    {
        var code = new StringArray.Builder();
        var name = new StringArray.Builder();
        foreach (var (c, n) in Codes.Zip(Names))
        {
            code.Append(c);
            _ = n is null ? name.AppendNull() : name.Append(n);
        }

        var count = new Int32Array.Builder();
        var big = new Int64Array.Builder();
        var score = new DoubleArray.Builder();
        var capital = new Decimal128Array.Builder(new Decimal128Type(18, 2));
        var active = new BooleanArray.Builder();
        var date = new Date32Array.Builder();
        var time = new TimestampArray.Builder(new TimestampType(TimeUnit.Microsecond, "UTC"));
        for (var i = 0; i < Codes.Length; i++)
        {
            _ = Counts[i] is { } n ? count.Append(n) : count.AppendNull();
            big.Append(Bigs[i]!.Value);
            score.Append(Scores[i]!.Value);
            capital.Append(Capitals[i]!.Value);
            active.Append(Actives[i]!.Value);
            date.Append(Dates[i]!.Value);
            time.Append(Times[i]!.Value);
        }

        IArrowArray[] arrays = [code.Build(), name.Build(), count.Build(), big.Build(), score.Build(), capital.Build(), active.Build(), date.Build(), time.Build()];
        var schema = new Schema([.. arrays.Select((a, i) => new Field($"f{i}", a.Data.DataType, true))], null);
        return new RecordBatch(schema, arrays, Codes.Length);
    }
}
