using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Pull;

namespace GovShare.Node.Tests.Exchange;

public sealed class ItemProjectionTests
{
    private static readonly PseudonymKey Key = PseudonymKey.Derive(new byte[32], "11530100015151711X");

    private static readonly ProjectedItem[] Items =
    [
        new("name", "XM", MaskingRule.KeepEnds(1, 0)),
        new("id_number", "SFZH", MaskingRule.KeepEnds(6, 4)),
        new("age", "NLD", MaskingRule.Bucket(18, 60)),
        new("household", "HH", MaskingRule.Pseudonym),
        new("birth", "CSNY", MaskingRule.GeneraliseDate(DatePrecision.Month)),
        new("balance", "YE", MaskingRule.Redact),
        new("active", "ZT", MaskingRule.None),
    ];

    [Fact]
    public void Create_Items_OutputSchemaKnownUpFront()
    {
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);

        Assert.Equal(["XM", "SFZH", "NLD", "HH", "CSNY", "YE", "ZT"], projection.OutputSchema.FieldsList.Select(f => f.Name));
        Assert.Equal(["utf8", "utf8", "utf8", "utf8", "utf8", "decimal128", "bool"], projection.OutputSchema.FieldsList.Select(f => f.DataType.Name));
        Assert.Equal("KeepEnds(6,4)", projection.OutputSchema.GetFieldByName("SFZH").Metadata[ItemProjection.MaskingMetadataKey]);
        Assert.Equal("Bucket(18,60)", projection.OutputSchema.GetFieldByName("NLD").Metadata[ItemProjection.MaskingMetadataKey]);
    }

    [Fact]
    public void Project_Batch_OnlyProjectedItemsMasked()
    {
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);
        using var source = ArrowSamples.People(10, seed: 2);

        using var output = projection.Project(source);

        Assert.Equal(7, output.ColumnCount);
        Assert.Equal(10, output.Length);
        var sourceName = ((StringArray)source.Column(1)).GetString(0);
        Assert.Equal(sourceName[..1] + new string('*', sourceName.Length - 1), ((StringArray)output.Column(0)).GetString(0));
        var id = ArrowSamples.IdNumber(2, 0);
        Assert.Equal(id[..6] + "********" + id[^4..], ((StringArray)output.Column(1)).GetString(0));
        Assert.Equal("(-∞,18)", ((StringArray)output.Column(2)).GetString(0));
        Assert.Matches("^[0-9a-f]{32}$", ((StringArray)output.Column(3)).GetString(0));
        Assert.Equal("1950-01", ((StringArray)output.Column(4)).GetString(0));
        Assert.Equal(10, output.Column(5).NullCount);
        Assert.Same(source.Column(5), output.Column(6));
        Assert.True(output.Column(0).IsNull(3));
        Assert.DoesNotContain(Enumerable.Range(0, 10).Select(i => ((StringArray)output.Column(1)).GetString(i)), v => v == id);
    }

    [Fact]
    public void Project_BatchRoundTrip_WritesAsArrowStream()
    {
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);
        using var source = ArrowSamples.People(30);
        using var output = projection.Project(source);

        var bytes = ArrowSamples.Write(projection.OutputSchema, output);

        var schema = new Apache.Arrow.Ipc.ArrowStreamReader(bytes).Schema;
        Assert.Equal(7, schema.FieldsList.Count);
    }

    [Fact]
    public void Recycle_WrittenBatch_ItsMaskedMemoryServesTheNextBatch()
    {
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);
        using var first = ArrowSamples.People(50, seed: 3);
        using var second = ArrowSamples.People(50, seed: 4);
        using var expected = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key).Project(second);

        var firstOut = projection.Project(first);
        var firstArrays = MaskedArrays(firstOut, first);
        projection.Recycle(firstOut);
        using var secondOut = projection.Project(second);

        // The second batch is written into the first one's arrays, and masked as if they were fresh.
        Assert.NotEmpty(firstArrays.Intersect(MaskedArrays(secondOut, second), ReferenceEqualityComparer.Instance));
        for (var c = 0; c < 5; c++)
        {
            Assert.Equal(Values(expected.Column(c)), Values(secondOut.Column(c)));
        }
    }

    [Fact]
    public void Project_NotRecycled_FreshMemoryEachBatch()
    {
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);
        using var source = ArrowSamples.People(50, seed: 3);
        using var other = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);

        using var firstOut = projection.Project(source);
        // A batch of another projection is not this one's to reuse.
        var foreign = other.Project(source);
        projection.Recycle(foreign);
        using var secondOut = projection.Project(source);

        Assert.Empty(MaskedArrays(firstOut, source).Intersect(MaskedArrays(secondOut, source), ReferenceEqualityComparer.Instance));
        Assert.Empty(MaskedArrays(foreign, source).Intersect(MaskedArrays(secondOut, source), ReferenceEqualityComparer.Instance));
    }

    /// <summary>The arrays under the masked columns, less those borrowed from the source (an ASCII KeepEnds column keeps its offsets).</summary>
    private static List<object> MaskedArrays(RecordBatch batch, RecordBatch source)
    {
        var borrowed = Arrays(Enumerable.Range(0, source.ColumnCount).Select(source.Column)).ToHashSet(ReferenceEqualityComparer.Instance);
        return [.. Arrays(Enumerable.Range(0, 5).Select(batch.Column)).Where(a => !borrowed.Contains(a))];
    }

    private static IEnumerable<object> Arrays(IEnumerable<IArrowArray> columns) =>
        columns.SelectMany(c => c.Data.Buffers)
            .Select(b => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(b.Memory, out var segment) ? segment.Array : null)
            .OfType<object>();

    private static List<string?> Values(IArrowArray array) =>
        [.. Enumerable.Range(0, array.Length).Select(i => ((StringArray)array).GetString(i))];

    [Fact]
    public void Create_BadItems_ListsEveryProblem()
    {
        ProjectedItem[] items =
        [
            new("nonexistent", "A", MaskingRule.None),
            new("income", "B", MaskingRule.KeepEnds(1, 1)),
            new("name", "B", MaskingRule.Pseudonym),
            new("age", " ", MaskingRule.None),
        ];

        var ex = Assert.Throws<ItemProjectionException>(() => ItemProjection.Create(ArrowSamples.PeopleSchema, items));

        Assert.Equal(5, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.Contains("no column 'nonexistent'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("KeepEnds is not defined for double", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("projected twice", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("needs the user department's key", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("no output name", StringComparison.Ordinal));
    }

    [Fact]
    public void Create_NoItems_Refused()
    {
        var ex = Assert.Throws<ItemProjectionException>(() => ItemProjection.Create(ArrowSamples.PeopleSchema, []));
        Assert.Equal(["No items are projected."], ex.Errors);
    }

    [Fact]
    public void Project_BatchOfOtherSchema_Refused()
    {
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, Key);
        var schema = new Schema.Builder().Field(f => f.Name("x").DataType(Int32Type.Default)).Build();
        using var other = new RecordBatch(schema, [new Int32Array.Builder().Append(1).Build()], 1);

        Assert.Throws<ArgumentException>(() => projection.Project(other));
    }
}
