using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

/// <summary>
/// The appenders write each batch's Arrow buffers in place and hand them to the array without a
/// copy, the next batch starting new ones sized from the last (ColumnBuffers): a batch already
/// handed out must keep its values whatever the next batches do, and values longer than the
/// size guessed from the batch before must grow the buffer, not spill or truncate.
/// </summary>
public sealed class ColumnBuffersTests
{
    [Fact]
    public void Batches_GrowingValuesAndNulls_EachBatchKeepsItsOwnValuesAfterLaterOnesAreBuilt()
    {
        var mapping = new ItemMapping(
        [
            new ColumnMapping("name", "name", ItemDataType.Utf8), new ColumnMapping("staff", "staff", ItemDataType.Int32),
            new ColumnMapping("big", "big", ItemDataType.Int64), new ColumnMapping("score", "score", ItemDataType.Float64),
            new ColumnMapping("listed", "listed", ItemDataType.Boolean), new ColumnMapping("founded", "founded", ItemDataType.Date32),
            new ColumnMapping("updated", "updated", ItemDataType.Timestamp), new ColumnMapping("logo", "logo", ItemDataType.Binary),
            new ColumnMapping("capital", "capital", ItemDataType.Decimal(18, 2)),
        ]);
        var assembler = new RecordBatchAssembler(mapping, new ReadOptions { FirstBatchSize = 3, BatchSize = 40, AssumedOffset = TimeSpan.Zero });
        var batches = new List<RecordBatch>();
        const int Rows = 200;
        for (var row = 1; row <= Rows; row++)
        {
            // Short names first, then ever longer ones (past what the earlier batches needed a row); every 7th row all nulls.
            var none = row % 7 == 0;
            assembler.AppendText(row, 0, none ? null : Name(row));
            assembler.AppendText(row, 1, none ? null : (row * 3).ToString(System.Globalization.CultureInfo.InvariantCulture));
            assembler.AppendText(row, 2, none ? null : (row * 10_000_000_000L).ToString(System.Globalization.CultureInfo.InvariantCulture));
            assembler.AppendText(row, 3, none ? null : $"{row}.25");
            assembler.AppendText(row, 4, none ? null : (row % 3 == 0 ? "true" : "false"));
            assembler.AppendText(row, 5, none ? null : new DateOnly(2000, 1, 1).AddDays(row).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
            assembler.AppendText(row, 6, none ? null : new DateTime(2026, 3, 1).AddSeconds(row).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
            assembler.AppendText(row, 7, none ? null : Convert.ToBase64String(Logo(row)));
            assembler.AppendText(row, 8, none ? null : $"{row}.{row % 100:00}");
            if (assembler.IsFull && assembler.Flush() is { } batch)
            {
                batches.Add(batch);
            }
        }

        batches.Add(assembler.Flush()!);
        Assert.False(assembler.Errors.Any);

        // Batches of 3, 6, 12, 24, 40, … rows: checked only now, after every later batch was built.
        Assert.Equal([3, 6, 12, 24, 40, 40, 40, 35], batches.Select(b => b.Length));
        var row0 = 0;
        foreach (var batch in batches)
        {
            for (var i = 0; i < batch.Length; i++)
            {
                var row = row0 + i + 1;
                var none = row % 7 == 0;
                Assert.Equal(none ? null : Name(row), ((StringArray)batch.Column(0)).GetString(i));
                Assert.Equal(none ? null : row * 3, ((Int32Array)batch.Column(1)).GetValue(i));
                Assert.Equal(none ? null : row * 10_000_000_000L, ((Int64Array)batch.Column(2)).GetValue(i));
                Assert.Equal(none ? null : row + 0.25, ((DoubleArray)batch.Column(3)).GetValue(i));
                Assert.Equal(none ? null : row % 3 == 0, ((BooleanArray)batch.Column(4)).GetValue(i));
                Assert.Equal(none ? null : new DateOnly(2000, 1, 1).AddDays(row), ((Date32Array)batch.Column(5)).GetDateOnly(i));
                Assert.Equal(none ? null : new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(row), ((TimestampArray)batch.Column(6)).GetTimestamp(i));
                Assert.Equal(none ? null : Logo(row), ((BinaryArray)batch.Column(7)).IsNull(i) ? null : ((BinaryArray)batch.Column(7)).GetBytes(i).ToArray());
                Assert.Equal(none ? null : decimal.Parse($"{row}.{row % 100:00}", System.Globalization.CultureInfo.InvariantCulture), ((Decimal128Array)batch.Column(8)).GetValue(i));
            }

            Assert.All(Enumerable.Range(0, batch.ColumnCount), c => Assert.Equal(Enumerable.Range(row0 + 1, batch.Length).Count(r => r % 7 == 0), batch.Column(c).NullCount));
            row0 += batch.Length;
        }

        Assert.Equal(Rows, row0);
    }

    [Fact]
    public void Build_NoRows_AnEmptyArrayOfEachType()
    {
        foreach (var type in new[] { ItemDataType.Utf8, ItemDataType.Int32, ItemDataType.Int64, ItemDataType.Float64, ItemDataType.Boolean, ItemDataType.Date32, ItemDataType.Timestamp, ItemDataType.Binary, ItemDataType.Decimal(10, 2) })
        {
            var array = ColumnAppender.For(type, TimeSpan.Zero).Build();
            Assert.Equal(0, array.Length);
            Assert.True(type.Matches(array.Data.DataType), type.ToString());
        }
    }

    private static string Name(int row) => $"企业{row}" + new string('云', row * row / 10);

    private static byte[] Logo(int row) => [.. Enumerable.Range(0, 1 + (row % 5)).Select(b => (byte)(row + b))];
}
