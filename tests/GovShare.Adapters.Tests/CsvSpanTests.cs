using System.Text;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

/// <summary>
/// The CSV path converts cells from spans of the reader's buffer, not from a string per cell: it
/// must read the same fields and make the same values and errors as text given as strings.
/// </summary>
public sealed class CsvSpanTests : IDisposable
{
    private static readonly string[] Texts =
    [
        "", " ", "\t", "0", "-0", "+5", " 12 ", "\u00a07\u00a0", "2147483647", "2147483648", "-2147483649", "9223372036854775808", "1e3", "1,000", "12.345",
        "12.34", "999.990", "-0.50", "1.", ".5", "NaN", "Infinity", "abc", "云南", "\ud800x", "true", "TRUE", " 是 ", "否", "yeſ", "1", "t",
        "2026-03-01", "2026/3/1", "20260301", "2026-3-1", "01.03.2026", "2026-02-30", "2026", "2026-03", "2026-03-01 08:30", "2026-03-01 08:30:05",
        "2026-03-01T08:30:05", "2026/3/1 8:30", "2026-03-01 08:30:05.123456", "2026-03-01 08:30:05.1234567", "2026-03-01T08:30:05+08:00",
        "2026-03-01T00:00:00Z", "0001-01-01 00:00:00", "0001-01-01 08:00:00", "2026-03-01 08:30:05 -05:30", "2026-03-01T08:30:05.5z", "03/01/2026 08:30", "01.03.2026 08:30:05 +01:00", "AAEC", "=!",
    ];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, string?, string?> Types => new()
    {
        { "utf8", null, null },
        { "int32", null, null },
        { "int64", null, null },
        { "float64", null, null },
        { "boolean", null, null },
        { "date32", null, null },
        { "date32", null, "dd.MM.yyyy" },
        { "timestamp", null, null },
        { "timestamp", "dd.MM.yyyy HH:mm:ss zzz", null },
        { "timestamp", "yyyy/M/d H:mm", null },
        { "decimal128(18,2)", null, null },
        { "decimal128(38,0)", null, null },
        { "binary", null, null },
    };

    // What a cell converts to, fixed here (the conversions of the string-per-cell reader): value as
    // ArrowValues gives it (timestamps in UTC), or the error.
    [Theory]
    [InlineData("int32", " 12 ", 12, null)]
    [InlineData("int32", "\\u00a07\\u00a0", 7, null)]
    [InlineData("int32", "2147483648", null, "out of range for int32")]
    [InlineData("int32", "1e3", null, "not an integer")]
    [InlineData("int64", "-9223372036854775808", long.MinValue, null)]
    [InlineData("int64", "12.0", null, "not an integer (int64)")]
    [InlineData("float64", " 1e3", 1000.0, null)]
    [InlineData("float64", "1,5", null, "not a number")]
    [InlineData("decimal128(18,2)", "999.990", "999.99", null)]
    [InlineData("decimal128(18,2)", "1,000", "1000.00", null)]
    [InlineData("decimal128(18,2)", "12.345", null, "has more than 2 decimal place(s)")]
    [InlineData("decimal128(5,2)", "1000", null, "too large for decimal128(5,2)")]
    [InlineData("decimal128(18,2)", "12x", null, "not a decimal number for decimal128(18,2)")]
    [InlineData("date32", "2026/3/1", "2026-03-01", null)]
    [InlineData("date32", "20260301", "2026-03-01", null)]
    [InlineData("date32", "2026-02-30", null, "not a date (yyyy-MM-dd)")]
    [InlineData("timestamp", "2026-03-01 08:30:05", "2026-03-01T00:30:05.000000Z", null)]
    [InlineData("timestamp", " 2026/3/1 8:30 ", "2026-03-01T00:30:00.000000Z", null)]
    [InlineData("timestamp", "2026-03-01T08:30:05-05:30", "2026-03-01T14:00:05.000000Z", null)]
    [InlineData("timestamp", "2026-03-01 08:30:05.123456Z", "2026-03-01T08:30:05.123456Z", null)]
    [InlineData("timestamp", "2026-03-01 08:30:05.1234567", null, "has sub-microsecond digits; timestamps are in microseconds")]
    [InlineData("timestamp", "2026", null, "not a timestamp (yyyy-MM-dd HH:mm:ss, or ISO 8601 with an offset)")]
    [InlineData("timestamp", "0001-01-01 00:00:00", null, "is outside the timestamps that can be stored (0001-01-01 to 9999-12-31 UTC) when read at offset +08:00")]
    [InlineData("timestamp", "0001/1/1 7:59", null, "is outside the timestamps that can be stored (0001-01-01 to 9999-12-31 UTC) when read at offset +08:00")]
    [InlineData("timestamp", "0001-01-01 08:00:00", "0001-01-01T00:00:00.000000Z", null)]
    [InlineData("utf8", "\\ud800x", "\ufffdx", null)]
    [InlineData("utf8", "", "", null)]
    public void AppendChars_ACell_ConvertsAsTheStringDid(string type, string escapedText, object? expected, string? error)
    {
        var text = System.Text.RegularExpressions.Regex.Unescape(escapedText);
        var appender = ColumnAppender.For(ItemDataType.Parse(type), TimeSpan.FromHours(8));

        Assert.Equal(error, appender.AppendChars(text));
        var array = appender.Build();
        var value = ArrowValues.GetText(array, 0);
        Assert.Equal(expected is null ? null : Convert.ToString(expected, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    // AppendText(string) and AppendChars(span) are one conversion: a cell cut out of a larger
    // buffer (as the reader hands it over) must give the same value and error as the same text
    // as a string, for every item type and text.
    [Theory]
    [MemberData(nameof(Types))]
    public void AppendChars_AnyText_SameValueAndSameErrorAsTheString(string type, string? timestampFormat, string? dateFormat)
    {
        var itemType = ItemDataType.Parse(type);
        var fromStrings = ColumnAppender.For(itemType, TimeSpan.FromHours(8), timestampFormat, dateFormat);
        var fromSpans = ColumnAppender.For(itemType, TimeSpan.FromHours(8), timestampFormat, dateFormat);
        foreach (var text in Texts)
        {
            // A span of a larger buffer, as the reader hands it over.
            var buffer = ("x," + text + ",y").ToCharArray();
            Assert.Equal(fromStrings.AppendText(text), fromSpans.AppendChars(buffer.AsSpan(2, text.Length)));
        }

        var expected = fromStrings.Build();
        var actual = fromSpans.Build();
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(ArrowValues.Get(expected, i), ArrowValues.Get(actual, i));
        }
    }

    [Fact]
    public async Task ReadAsync_ShortTextInATimestampItem_IsARowErrorNotACrash()
    {
        var path = _temp.File("short.csv");
        await File.WriteAllTextAsync(path, "at\r\n2026-03-01 08:30:05\r\n2026\r\n");
        var mapping = new ItemMapping([new("at", "at", ItemDataType.Timestamp)]);

        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() => CsvTests.ToListAsync(new CsvSource(path, mapping).ReadAsync()));

        var error = Assert.Single(failure.Errors);
        Assert.Equal((2L, "at", "2026"), (error.Row, error.Column, error.Value));
        Assert.StartsWith("not a timestamp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_RecordsAcrossManyBufferFills_GivesEveryFieldNullOrTextAndTheLine()
    {
        // Fields of every kind — null, "", quoted with doubled quotes, delimiters and line breaks
        // inside, long ones — written to a text several times the reader's 64 K buffer, so fields,
        // quotes, "" pairs and CRLF pairs fall on every buffer boundary.
        var random = new Random(21);
        var records = new List<string?[]>();
        var text = new StringBuilder();
        var lineEnds = new List<long>();
        long lines = 0;
        while (text.Length < 5 * 64 * 1024)
        {
            var fields = new string?[random.Next(1, 6)];
            for (var f = 0; f < fields.Length; f++)
            {
                fields[f] = random.Next(8) switch
                {
                    0 => null,
                    1 => "",
                    2 => "say \"hi\", then\r\nnew line\nand \"\"",
                    3 => new string('长', random.Next(1, 3000)),
                    4 => "a;b|c\t" + random.Next(),
                    _ => random.Next(-1000, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
                };
                if (f > 0)
                {
                    text.Append(';');
                }

                var value = fields[f];
                if (value is not null && (value.Length == 0 || value.AsSpan().IndexOfAny(";\"\r\n") >= 0 || random.Next(4) == 0))
                {
                    text.Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
                    lines += value.Count(c => c == '\n');
                }
                else
                {
                    text.Append(value);
                }
            }

            if (fields is [null])
            {
                fields[0] = "1"; // A lone null is a blank line; the source skips those (tested in CsvTests).
                text.Append('1');
            }

            text.Append(random.Next(3) == 0 ? "\n" : "\r\n");
            lines++;
            records.Add(fields);
            lineEnds.Add(lines);
        }

        var reader = new CsvRecordReader(new StringReader(text.ToString()), ';');
        for (var r = 0; r < records.Count; r++)
        {
            Assert.True(reader.TryRead(), $"record {r}");
            Assert.Equal(records[r], Enumerable.Range(0, reader.FieldCount).Select(reader.FieldText));
            Assert.Equal(lineEnds[r], reader.Line);
        }

        Assert.False(reader.TryRead());
    }

    [Fact]
    public void TryRead_TextAfterAClosingQuote_IsKept_AndAnUnclosedQuoteIsAFormatError()
    {
        var reader = new CsvRecordReader(new StringReader("\"a\"b,\"\"c,\"\"\r\n\"open"));
        var fields = new List<string?>();

        Assert.True(reader.TryRead(fields));
        Assert.Equal(["ab", "c", ""], fields);
        var error = Assert.Throws<FormatException>(() => reader.TryRead());
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
    }
    // The direct readers of yyyy-MM-dd and yyyy-MM-dd HH:mm:ss[.ffffff] must agree with .NET's
    // exact parse of the formats they stand in for, on every text they accept; what they refuse
    // goes to that parse anyway. Random texts of that shape, valid and not (day 31 of a short
    // month, 29 February, hour 24, minute 60, a letter in place of a digit, a missing separator).
    [Fact]
    public void IsoFastPaths_AgreeWithParseExact_OnEveryTextTheyAccept()
    {
        var random = new Random(2026);
        string[] localFormats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF"];
        var accepted = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var date = $"{random.Next(0, 10000):D4}-{random.Next(0, 14):D2}-{random.Next(0, 33):D2}";
            var text = random.Next(6) switch
            {
                0 => date,
                1 => $"{date} {random.Next(0, 25):D2}:{random.Next(0, 61):D2}:{random.Next(0, 61):D2}",
                2 => $"{date}T{random.Next(0, 24):D2}:{random.Next(0, 60):D2}:{random.Next(0, 60):D2}.{random.Next(0, 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture)[..random.Next(1, 7)]}",
                3 => $"{date} {random.Next(0, 24):D2}:{random.Next(0, 60):D2}:{random.Next(0, 60):D2}.",
                4 => date.Replace(date[random.Next(date.Length)], "x1-: ."[random.Next(6)]),
                _ => $"{date}_{random.Next(0, 24):D2}:{random.Next(0, 60):D2}:{random.Next(0, 60):D2}",
            };

            if (ColumnAppender.TryParseIsoDate(text, out var fast))
            {
                accepted++;
                Assert.True(DateOnly.TryParseExact(text, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var exact), text);
                Assert.Equal(exact, fast);
            }

            if (ColumnAppender.TryParseIsoLocalTimestamp(text, out var fastTime))
            {
                accepted++;
                Assert.True(DateTime.TryParseExact(text, localFormats, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var exactTime), text);
                Assert.Equal((exactTime, exactTime.Kind), (fastTime, fastTime.Kind));
            }
        }

        Assert.True(accepted > 50_000, $"only {accepted} texts took a fast path");
    }
}
