using System.Text;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

public sealed class CsvTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ReadAsync_Gb18030FileWithChineseNames_DetectsEncodingAndReadsNames()
    {
        var path = _temp.File("人口.csv");
        var text = "姓名,身份证号,出生日期,户籍地\r\n张三,530102199001011234,1990-01-01,昆明市五华区\r\n李四,530103198512125678,1985-12-12,\"昆明市盘龙区,北京路\"\r\n";
        await File.WriteAllBytesAsync(path, TextEncodings.Gb18030.GetBytes(text));
        var mapping = new ItemMapping(
        [
            new("姓名", "name", ItemDataType.Utf8),
            new("身份证号", "id_number", ItemDataType.Utf8),
            new("出生日期", "birth_date", ItemDataType.Date32),
            new("户籍地", "residence", ItemDataType.Utf8),
        ]);

        var source = new CsvSource(path, mapping);
        var batches = await ToListAsync(source.ReadAsync());

        Assert.Equal(54936, source.Encoding.CodePage);
        var batch = Assert.Single(batches);
        Assert.Equal(["name", "id_number", "birth_date", "residence"], batch.Schema.FieldsList.Select(f => f.Name));
        var names = (StringArray)batch.Column(0);
        Assert.Equal(["张三", "李四"], [names.GetString(0), names.GetString(1)]);
        Assert.Equal("昆明市盘龙区,北京路", ((StringArray)batch.Column(3)).GetString(1));
        Assert.Equal(new DateOnly(1985, 12, 12), ((Date32Array)batch.Column(2)).GetDateOnly(1));
    }

    [Fact]
    public async Task ReadAsync_FirstBatchSize_StartsSmallAndDoublesUpToTheBatchSize_KeepingEveryRowInOrder()
    {
        // A push's first batch is small so its upload starts early; the rest grow to the usual size.
        var path = _temp.File("rows.csv");
        await File.WriteAllTextAsync(path, "n\n" + string.Concat(Enumerable.Range(1, 40).Select(i => $"{i}\n")));
        var mapping = new ItemMapping([new("n", "n", ItemDataType.Int32)]);

        var batches = await ToListAsync(new CsvSource(path, mapping, options: new ReadOptions { BatchSize = 8, FirstBatchSize = 2 }).ReadAsync());

        Assert.Equal([2, 4, 8, 8, 8, 8, 2], batches.Select(b => b.Length));
        Assert.Equal(Enumerable.Range(1, 40), batches.SelectMany(b => ((Int32Array)b.Column(0)).Values.ToArray()));
    }

    [Fact]
    public async Task ReadAsync_GivenDateAndTimeFormats_ReadsOnlyThoseAtTheGivenZone_AndTheSinkWritesThemBack()
    {
        var path = _temp.File("formats.csv");
        await File.WriteAllTextAsync(path, "日期,时间\n03.04.2026,03.04.2026 08:30\n31.12.2025,01.01.2026 00:00 +00:00\n2026-04-03,2026-04-03 08:30:00\n");
        var mapping = new ItemMapping([new("日期", "day", ItemDataType.Date32), new("时间", "at", ItemDataType.Timestamp)]);
        var options = new ReadOptions { AssumedOffset = TimeSpan.FromHours(8), DateFormat = "dd.MM.yyyy", TimestampFormat = "dd.MM.yyyy HH:mm" };

        // Row 3 is in the default forms, which a named format does not accept; row 2's offset is not in the format.
        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() => StagedDataset.StageAsync(new CsvSource(path, mapping, options: options).ReadAsync(), _temp.File("stage")));
        Assert.Contains(failure.Errors, e => e.Row == 3 && e.Message.Contains("dd.MM.yyyy", StringComparison.Ordinal));
        Assert.Contains(failure.Errors, e => e.Row == 2 && e.Message.Contains("dd.MM.yyyy HH:mm", StringComparison.Ordinal));

        var withOffsets = options with { TimestampFormat = "dd.MM.yyyy HH:mm zzz" };
        await File.WriteAllTextAsync(path, "日期,时间\n03.04.2026,03.04.2026 08:30 +08:00\n31.12.2025,01.01.2026 00:00 +00:00\n");
        var batch = Assert.Single(await ToListAsync(new CsvSource(path, mapping, options: withOffsets).ReadAsync()));
        Assert.Equal(new DateOnly(2026, 4, 3), ((Date32Array)batch.Column(0)).GetDateOnly(0));
        Assert.Equal(new DateOnly(2025, 12, 31), ((Date32Array)batch.Column(0)).GetDateOnly(1));
        Assert.Equal(new DateTimeOffset(2026, 4, 3, 0, 30, 0, TimeSpan.Zero), ArrowValues.Get(batch.Column(1), 0));
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), ArrowValues.Get(batch.Column(1), 1));

        // Written back in formats of the department's choosing, at Beijing time.
        var output = _temp.File("out.csv");
        await new CsvSink(output, new UTF8Encoding(false), timeOffset: TimeSpan.FromHours(8), timestampFormat: "yyyy/MM/dd HH:mm:ss", dateFormat: "yyyy年M月d日").WriteAsync(AsAsync(batch));
        Assert.Equal(["day,at", "2026年4月3日,2026/04/03 08:30:00", "2025年12月31日,2026/01/01 08:00:00"], await File.ReadAllLinesAsync(output));
    }

    private static async IAsyncEnumerable<RecordBatch> AsAsync(RecordBatch batch)
    {
        await Task.Yield();
        yield return batch;
    }

    [Fact]
    public async Task ReadAsync_Utf8WithBom_ReadsHeaderWithoutBom()
    {
        var path = _temp.File("bom.csv");
        await File.WriteAllTextAsync(path, "编号,名称\n1,昆明\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));

        var batch = Assert.Single(await ToListAsync(new CsvSource(path).ReadAsync()));

        Assert.Equal(["编号", "名称"], batch.Schema.FieldsList.Select(f => f.Name));
        Assert.Equal("昆明", ((StringArray)batch.Column(1)).GetString(0));
    }

    [Fact]
    public async Task StageAsync_TypeErrorAtRow1234_ReportsRowColumnValueAndProducesNothing()
    {
        var path = _temp.File("errors.csv");
        var lines = new StringBuilder("姓名,年龄\n");
        for (var row = 1; row <= 2000; row++)
        {
            lines.Append("人员").Append(row).Append(',').Append(row == 1234 ? "三十五岁" : (20 + (row % 50)).ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        await File.WriteAllTextAsync(path, lines.ToString());
        var mapping = new ItemMapping([new("姓名", "name", ItemDataType.Utf8), new("年龄", "age", ItemDataType.Int32)]);
        var stage = _temp.File("stage");

        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() =>
            StagedDataset.StageAsync(new CsvSource(path, mapping, options: new ReadOptions { BatchSize = 500 }).ReadAsync(), stage));

        var error = Assert.Single(failure.Errors);
        Assert.Equal(1, failure.Total);
        Assert.Equal(1234, error.Row);
        Assert.Equal("年龄", error.Column);
        Assert.Equal("三十五岁", error.Value);
        Assert.Contains("row 1,234, column '年龄'", failure.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(stage));
    }

    [Fact]
    public async Task StageAsync_SeveralBadRows_ReportsEveryOne()
    {
        var path = _temp.File("many.csv");
        await File.WriteAllTextAsync(path, "a,b,c\n1,2024-01-01,1.5\nx,2024-13-01,1.5\n3,2024-01-02\n4,2024-01-03,12.345\n");
        var mapping = new ItemMapping([new("a", "a", ItemDataType.Int64), new("b", "b", ItemDataType.Date32), new("c", "c", ItemDataType.Decimal(5, 2))]);

        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() => StagedDataset.StageAsync(new CsvSource(path, mapping).ReadAsync(), _temp.File("stage")));

        Assert.Equal([(2L, "a"), (2L, "b"), (3L, "(row)"), (4L, "c")], failure.Errors.Select(e => (e.Row, e.Column)));
    }

    [Fact]
    public async Task StageAsync_DecimalAtAndBeyondItsPrecision_OnlyTheTooLargeAndTooFineRowsReported()
    {
        var path = _temp.File("decimals.csv");
        await File.WriteAllTextAsync(path, "c,z\n999.99,0.1\n-999.99,-0.9\n1000.00,0\n-1000,1\n999.995,0.0\n0.5,1.0\n000999.990,-1.00\n");
        var mapping = new ItemMapping([new("c", "c", ItemDataType.Decimal(5, 2)), new("z", "z", ItemDataType.Decimal(1, 1))]);

        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() => StagedDataset.StageAsync(new CsvSource(path, mapping).ReadAsync(), _temp.File("stage")));

        Assert.Equal(
            ["row 3, column 'c': too large for decimal128(5,2) (value '1000.00')", "row 4, column 'c': too large for decimal128(5,2) (value '-1000')",
             "row 4, column 'z': too large for decimal128(1,1) (value '1')", "row 5, column 'c': has more than 2 decimal place(s) (value '999.995')",
             "row 6, column 'z': too large for decimal128(1,1) (value '1.0')", "row 7, column 'z': too large for decimal128(1,1) (value '-1.00')"],
            failure.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public async Task ReadAsync_MappedColumnMissing_NamesEveryMissingColumn()
    {
        var path = _temp.File("cols.csv");
        await File.WriteAllTextAsync(path, "a,b\n1,2\n");
        var mapping = new ItemMapping([new("x", "x", ItemDataType.Utf8), new("a", "a", ItemDataType.Utf8), new("y", "y", ItemDataType.Utf8)]);

        var failure = await Assert.ThrowsAsync<MappingException>(() => ToListAsync(new CsvSource(path, mapping).ReadAsync()));

        Assert.Equal(2, failure.Errors.Count);
        Assert.Contains("'x'", failure.Errors[0], StringComparison.Ordinal);
        Assert.Contains("'y'", failure.Errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_FormulaLikeText_IsPrefixedButNumbersAreNot()
    {
        var path = _temp.File("safe.csv");
        var input = _temp.File("in.csv");
        await File.WriteAllTextAsync(input, "note,amount\n=HYPERLINK(\"http://x\"),-5\n@SUM(A1),3\nplain,\n");
        var mapping = new ItemMapping([new("note", "note", ItemDataType.Utf8), new("amount", "amount", ItemDataType.Int64)]);

        await new CsvSink(path, new UTF8Encoding(false)).WriteAsync(new CsvSource(input, mapping).ReadAsync());

        Assert.Equal("note,amount\r\n\"'=HYPERLINK(\"\"http://x\"\")\",-5\r\n'@SUM(A1),3\r\nplain,\r\n", await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task WriteThenRead_QuotesNewlinesNullsAndEmptyStrings_RoundTrip()
    {
        var input = _temp.File("in.csv");
        var output = _temp.File("out.csv");
        var text = "a,b\r\n\"line one\r\nline two\",\"say \"\"hi\"\"\"\r\n\"\",\r\n";
        await File.WriteAllTextAsync(input, text);

        await new CsvSink(output, new UTF8Encoding(false), spreadsheetSafe: false).WriteAsync(new CsvSource(input).ReadAsync());
        var batch = Assert.Single(await ToListAsync(new CsvSource(output).ReadAsync()));

        Assert.Equal(text, await File.ReadAllTextAsync(output));
        Assert.Equal("line one\r\nline two", ((StringArray)batch.Column(0)).GetString(0));
        Assert.Equal("", ((StringArray)batch.Column(0)).GetString(1));
        Assert.True(batch.Column(1).IsNull(1));
    }

    internal static async Task<List<RecordBatch>> ToListAsync(IAsyncEnumerable<RecordBatch> batches)
    {
        var list = new List<RecordBatch>();
        await foreach (var batch in batches)
        {
            list.Add(batch);
        }

        return list;
    }
}
