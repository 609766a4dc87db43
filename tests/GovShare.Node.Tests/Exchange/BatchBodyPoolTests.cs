using Apache.Arrow;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Node.Tests.Exchange;

/// <summary>The node-wide pool of stored batch bodies that pulls share, and what a pull reads through it.</summary>
public sealed class BatchBodyPoolTests
{
    private const int Body = 256 * 1024;

    [Fact]
    public void Return_ThenRent_TheSameArrayServesTheNextBody()
    {
        var pool = new BatchBodyPool(8 * Body, 4);
        var array = new byte[Body];

        pool.Return(array);

        Assert.Same(array, pool.TryRent(Body - 1000));
        Assert.Null(pool.TryRent(Body));
    }

    [Fact]
    public void TryRent_TheSmallestThatFits_NeverMoreThanTwiceTheLength()
    {
        var pool = new BatchBodyPool(16 * Body, 4);
        var large = new byte[4 * Body];
        var medium = new byte[2 * Body];
        pool.Return(large);
        pool.Return(medium);

        // 1.5 bodies: the medium array fits best; just under one body: neither (both more than twice as long).
        Assert.Null(pool.TryRent(Body - 1));
        Assert.Same(medium, pool.TryRent(Body + (Body / 2)));
        Assert.Same(large, pool.TryRent(3 * Body));
    }

    [Fact]
    public void Return_SmallArrays_NotKept()
    {
        var pool = new BatchBodyPool(8 * Body, 4);

        pool.Return(new byte[BatchBodyPool.MinBytes - 1]);

        Assert.Equal(0, pool.FreeBytes);
        Assert.Null(pool.TryRent(BatchBodyPool.MinBytes - 1));
    }

    [Fact]
    public void Return_BeyondTheBounds_TheOldestAreDropped()
    {
        var pool = new BatchBodyPool(3 * Body, 8);
        var arrays = Enumerable.Range(0, 4).Select(_ => new byte[Body]).ToList();

        foreach (var array in arrays)
        {
            pool.Return(array);
        }

        // Three fit the byte bound: the first one returned went.
        Assert.Equal(3 * Body, pool.FreeBytes);
        var rented = Enumerable.Range(0, 3).Select(_ => pool.TryRent(Body)).ToList();
        Assert.DoesNotContain(rented, r => ReferenceEquals(r, arrays[0]));
        Assert.All(arrays.Skip(1), a => Assert.Contains(rented, r => ReferenceEquals(r, a)));
        Assert.Null(pool.TryRent(Body));

        var counted = new BatchBodyPool(100 * Body, 2);
        counted.Return(arrays[0]);
        counted.Return(arrays[1]);
        counted.Return(arrays[2]);
        Assert.Equal(2 * Body, counted.FreeBytes);

        // An array larger than the whole pool is never kept.
        counted.Return(new byte[101 * Body]);
        Assert.Equal(2 * Body, counted.FreeBytes);
    }

    [Fact]
    public async Task RecycledBodies_AnotherStreamsBatches_CarryOnlyTheirOwnValues()
    {
        // Two streams read one after the other through the node's pool, as two pulls are: the
        // second one's bodies are the first one's arrays (a little shorter, so the arrays are
        // longer than its bodies), and its batches hold exactly its own values.
        var first = Stream(rows: 40_000, start: 0);
        var second = Stream(rows: 39_000, start: 1_000_000);

        Assert.Equal(Enumerable.Range(0, 40_000).Select(i => (long)i), await ReadRecycledAsync(first));
        Assert.Equal(Enumerable.Range(1_000_000, 39_000).Select(i => (long)i), await ReadRecycledAsync(second));
    }

    private static byte[] Stream(int rows, long start)
    {
        var schema = new Schema.Builder().Field(f => f.Name("n").DataType(Apache.Arrow.Types.Int64Type.Default).Nullable(false)).Build();
        RecordBatch Batch(long from) =>
            new(schema, [new Int64Array.Builder().AppendRange(Enumerable.Range(0, rows / 2).Select(i => from + i)).Build()], rows / 2);
        return ArrowSamples.Write(schema, Batch(start), Batch(start + (rows / 2)));
    }

    private static async Task<List<long>> ReadRecycledAsync(byte[] stream)
    {
        var values = new List<long>();
        await using var reader = await SafeArrowReader.OpenAsync(new MemoryStream(stream), ArrowInputLimits.Default, stream.Length, recycleBodies: true, CancellationToken.None);
        while (await reader.ReadNextBatchAsync(CancellationToken.None) is { } batch)
        {
            using (batch)
            {
                values.AddRange(((Int64Array)batch.Column(0)).Values.ToArray());
            }
        }

        return values;
    }
}
