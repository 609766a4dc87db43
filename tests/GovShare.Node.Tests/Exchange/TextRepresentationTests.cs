using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Node.Exchange.Pull;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// The JSON representation writes straight from the Arrow arrays. Its bytes must stay exactly
/// those of the cell-by-cell encoder it replaced (each cell boxed by
/// <see cref="TextRepresentation.Value"/>, then written by type), which departments' parsers
/// were built against: every Arrow type the node stores, nulls, non-finite and negative-zero
/// doubles, text that needs escaping, both timestamp units, decimals of several scales, binary.
/// </summary>
public sealed class TextRepresentationTests
{
    private const int Seed = 20_2612;

    [Fact]
    public async Task Json_EveryTypeNullsAndEscapes_SameBytesAsTheCellByCellEncoder()
    {
        var random = new Random(Seed);
        var batches = Enumerable.Range(0, 4).Select(b => RandomBatch(random, rows: b == 2 ? 0 : 700 + (b * 311))).ToList();

        var written = await WriteAsync(batches);

        Assert.Equal(Encoding.UTF8.GetString(Reference(batches)), Encoding.UTF8.GetString(written));
        // And it is JSON: one object per row, with every column.
        var rows = JsonDocument.Parse(written).RootElement.EnumerateArray().ToList();
        Assert.Equal(batches.Sum(b => b.Length), rows.Count);
        Assert.All(rows, r => Assert.Equal(Schema.FieldsList.Count, r.EnumerateObject().Count()));
    }

    [Fact]
    public async Task Json_RowsPastTheFlushThreshold_SameBytesAsTheCellByCellEncoder()
    {
        // About 2 MB of JSON in one batch: written in 64 KiB pieces, none split wrongly.
        var batch = RandomBatch(new Random(Seed + 1), rows: 8_000);

        Assert.Equal(Encoding.UTF8.GetString(Reference([batch])), Encoding.UTF8.GetString(await WriteAsync([batch])));
    }

    [Fact]
    public async Task Json_NoBatches_EmptyArray()
    {
        Assert.Equal("[]", Encoding.UTF8.GetString(await WriteAsync([])));
    }

    [Fact]
    public async Task Json_UnsupportedArrowType_RefusedOnlyForAValue()
    {
        var schema = new Schema.Builder().Field(new Field("t", Time32Type.Default, true)).Build();
        using var nulls = new RecordBatch(schema, [new Time32Array.Builder().AppendNull().Build()], 1);
        using var value = new RecordBatch(schema, [new Time32Array.Builder().Append(1).Build()], 1);

        Assert.Equal("[{\"t\":null}]", Encoding.UTF8.GetString(await WriteAsync([nulls], schema)));
        await Assert.ThrowsAsync<NotSupportedException>(() => WriteAsync([value], schema));
    }

    private static readonly Schema Schema = new Schema.Builder()
        .Field(new Field("名称", StringType.Default, true))
        .Field(new Field("a \"quoted\" <name>+", StringType.Default, true))
        .Field(new Field("i32", Int32Type.Default, true))
        .Field(new Field("i64", Int64Type.Default, true))
        .Field(new Field("f64", DoubleType.Default, true))
        .Field(new Field("ok", BooleanType.Default, true))
        .Field(new Field("day", Date32Type.Default, true))
        .Field(new Field("at_ms", new TimestampType(TimeUnit.Millisecond, "UTC"), true))
        .Field(new Field("at_us", new TimestampType(TimeUnit.Microsecond, (string?)null), true))
        .Field(new Field("amount", new Decimal128Type(18, 2), true))
        .Field(new Field("ratio", new Decimal128Type(38, 10), true))
        .Field(new Field("blob", BinaryType.Default, true))
        .Build();

    private static readonly string[] Texts =
    [
        "", "张三", "李四光", "a\"b", "back\\slash", "line\nbreak\r\ttab", "\u0001\u001f\u007f", "<script>&'`+", "😀𠮷 astral",
        "\u2028\u2029", "=SUM(A1)", "é ü ß", "plain ascii text that is a little longer than the others",
    ];

    private static readonly double[] Doubles = [0, -0.0, 1.5, -2.25e-300, 1e21, 123456789.125, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, double.MaxValue, 30000];

    private static RecordBatch RandomBatch(Random random, int rows)
    {
        var s1 = new StringArray.Builder();
        var s2 = new StringArray.Builder();
        var i32 = new Int32Array.Builder();
        var i64 = new Int64Array.Builder();
        var f64 = new DoubleArray.Builder();
        var ok = new BooleanArray.Builder();
        var day = new Date32Array.Builder();
        var atMs = new TimestampArray.Builder(new TimestampType(TimeUnit.Millisecond, "UTC"));
        var atUs = new TimestampArray.Builder(new TimestampType(TimeUnit.Microsecond, (string?)null));
        var amount = new Decimal128Array.Builder(new Decimal128Type(18, 2));
        var ratio = new Decimal128Array.Builder(new Decimal128Type(38, 10));
        var blob = new BinaryArray.Builder();
        bool Null() => random.Next(8) == 0;
        for (var r = 0; r < rows; r++)
        {
            if (Null()) { s1.AppendNull(); } else { s1.Append(Texts[random.Next(Texts.Length)] + random.Next(1000)); }
            if (Null()) { s2.AppendNull(); } else { s2.Append(Texts[random.Next(Texts.Length)]); }
            if (Null()) { i32.AppendNull(); } else { i32.Append(random.Next(4) == 0 ? int.MinValue : random.Next(int.MinValue, int.MaxValue)); }
            if (Null()) { i64.AppendNull(); } else { i64.Append(random.Next(4) == 0 ? long.MaxValue : random.NextInt64(long.MinValue, long.MaxValue)); }
            if (Null()) { f64.AppendNull(); } else { f64.Append(random.Next(2) == 0 ? Doubles[random.Next(Doubles.Length)] : (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-20, 20))); }
            if (Null()) { ok.AppendNull(); } else { ok.Append(random.Next(2) == 0); }
            if (Null()) { day.AppendNull(); } else { day.Append(DateOnly.FromDayNumber(random.Next(4) == 0 ? (random.Next(2) == 0 ? DateOnly.MinValue.DayNumber : DateOnly.MaxValue.DayNumber) : random.Next(0, DateOnly.MaxValue.DayNumber))); }
            if (Null()) { atMs.AppendNull(); } else { atMs.Append(new DateTimeOffset(random.NextInt64(DateTimeOffset.UnixEpoch.Ticks, DateTimeOffset.MaxValue.Ticks) / TimeSpan.TicksPerMillisecond * TimeSpan.TicksPerMillisecond, TimeSpan.Zero)); }
            if (Null()) { atUs.AppendNull(); } else { atUs.Append(new DateTimeOffset(random.NextInt64(DateTimeOffset.MinValue.Ticks, DateTimeOffset.MaxValue.Ticks) / 10 * 10, TimeSpan.Zero)); }
            if (Null()) { amount.AppendNull(); } else { amount.Append(Math.Round((decimal)((random.NextDouble() - 0.5) * 1e12), 2)); }
            if (Null()) { ratio.AppendNull(); } else { ratio.Append(Math.Round((decimal)(random.NextDouble() - 0.5), 10)); }
            if (Null()) { blob.AppendNull(); } else { var bytes = new byte[random.Next(0, 40)]; random.NextBytes(bytes); blob.Append(bytes.AsSpan()); }
        }

        return new RecordBatch(Schema, [s1.Build(), s2.Build(), i32.Build(), i64.Build(), f64.Build(), ok.Build(), day.Build(), atMs.Build(), atUs.Build(), amount.Build(), ratio.Build(), blob.Build()], rows);
    }

    private static async Task<byte[]> WriteAsync(IReadOnlyList<RecordBatch> batches, Schema? schema = null)
    {
        using var output = new MemoryStream();
        await using (var text = await TextRepresentation.StartAsync(output, schema ?? Schema, csv: false, CancellationToken.None))
        {
            foreach (var batch in batches)
            {
                await text.WriteAsync(batch, CancellationToken.None);
            }

            await text.EndAsync(CancellationToken.None);
        }

        return output.ToArray();
    }

    /// <summary>The encoder the node used before (commit 5b64569): each cell boxed, then written by its .NET type.</summary>
    private static byte[] Reference(IReadOnlyList<RecordBatch> batches)
    {
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartArray();
            foreach (var batch in batches)
            {
                for (var row = 0; row < batch.Length; row++)
                {
                    json.WriteStartObject();
                    for (var c = 0; c < batch.ColumnCount; c++)
                    {
                        json.WritePropertyName(Schema.GetFieldByIndex(c).Name);
                        switch (TextRepresentation.Value(batch.Column(c), row))
                        {
                            case null: json.WriteNullValue(); break;
                            case string s: json.WriteStringValue(s); break;
                            case int i: json.WriteNumberValue(i); break;
                            case long l: json.WriteNumberValue(l); break;
                            case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
                            case double d: json.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
                            case bool b: json.WriteBooleanValue(b); break;
                            case var other: json.WriteStringValue(Convert.ToString(other, CultureInfo.InvariantCulture)); break;
                        }
                    }

                    json.WriteEndObject();
                }
            }

            json.WriteEndArray();
        }

        return output.ToArray();
    }
}
