using System.Security.Cryptography;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Tests.Desensitisation;

public sealed class ColumnMaskerTests
{
    private static readonly byte[] NodeSecret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private const string PoliceBureau = "11530100015151711X";
    private const string CivilAffairs = "115301000151517278";

    private static StringArray Strings(params string?[] values)
    {
        var builder = new StringArray.Builder();
        foreach (var v in values)
        {
            if (v is null)
            {
                builder.AppendNull();
            }
            else
            {
                builder.Append(v);
            }
        }

        return builder.Build();
    }

    private static string?[] Texts(IArrowArray array)
    {
        var strings = Assert.IsType<StringArray>(array);
        return [.. Enumerable.Range(0, strings.Length).Select(i => strings.GetString(i))];
    }

    private static void AssertTexts(IArrowArray array, string?[] expected) =>
        Assert.Equal<IEnumerable<string?>>(expected, Texts(array));

    private static ColumnMasker Masker(MaskingRule rule, IArrowType type, PseudonymKey? key = null) =>
        ColumnMasker.TryCreate(rule, type, key, out var errors) ?? throw new InvalidOperationException(string.Join(" ", errors));

    [Fact]
    public void KeepEnds_IdNumber_KeepsSixAndFour()
    {
        var masked = Masker(MaskingRule.KeepEnds(6, 4), StringType.Default).Mask(Strings("530102199001011234"));
        AssertTexts(masked, ["530102********1234"]);
    }

    [Fact]
    public void KeepEnds_ChineseNames_CountsCharactersNotBytes()
    {
        var masked = Masker(MaskingRule.KeepEnds(1, 1), StringType.Default).Mask(Strings("李小明", "欧阳娜娜", "张三", "王", "", null));
        AssertTexts(masked, ["李*明", "欧**娜", "张*", "*", "", null]);
    }

    [Fact]
    public void KeepEnds_SurrogatePairs_OneStarPerCharacter()
    {
        var masked = Masker(MaskingRule.KeepEnds(1, 1), StringType.Default).Mask(Strings("a😀😀b"));
        AssertTexts(masked, ["a**b"]);
    }

    [Fact]
    public void KeepEnds_TooShort_MasksAtLeastOneCharacter()
    {
        var masked = Masker(MaskingRule.KeepEnds(6, 4), StringType.Default).Mask(Strings("12345", "1234567890", "12345678901"));
        AssertTexts(masked, ["1234*", "123456*890", "123456*8901"]);
    }

    [Fact]
    public void KeepEnds_Int64PhoneNumber_MaskedText()
    {
        var phones = new Int64Array.Builder().Append(13812345678).AppendNull().Build();
        using var masker = Masker(MaskingRule.KeepEnds(3, 4), Int64Type.Default);

        var masked = masker.Mask(phones);

        Assert.IsType<StringType>(masker.OutputType);
        AssertTexts(masked, ["138****5678", null]);
    }

    [Fact]
    public void KeepEnds_SlicedArray_MasksOnlyTheSlice()
    {
        var sliced = Strings("aaaa", "李小明", "bbbb").Slice(1, 1);
        var masked = Masker(MaskingRule.KeepEnds(1, 0), StringType.Default).Mask(sliced);
        AssertTexts(masked, ["李**"]);
    }

    [Fact]
    public void KeepEnds_AsciiColumn_SameAsCharacterByCharacter()
    {
        // An all-ASCII column takes the byte path (same offsets, middles overwritten); one
        // non-ASCII value sends the same values through the character path: same answers.
        string?[] values = ["530102199001011234", "", null, "1", "12345", "1234567890", "12345678901", "A1B2C3D4E5F6G7H8I9J0", "0"];
        using var masker = Masker(MaskingRule.KeepEnds(6, 4), StringType.Default);

        var ascii = masker.Mask(Strings(values));
        var mixed = masker.Mask(Strings([.. values, "李小明"]));

        AssertTexts(ascii, ["530102********1234", "", null, "*", "1234*", "123456*890", "123456*8901", "A1B2C3**********I9J0", "*"]);
        Assert.Equal<IEnumerable<string?>>(Texts(ascii), Texts(mixed).Take(values.Length));
        Assert.Equal(1, ascii.NullCount);
    }

    [Fact]
    public void KeepEnds_AsciiColumn_DisposingTheOutputLeavesTheInputReadable()
    {
        // The output reads the input's offsets; built arrays own their buffers, and disposing
        // the output must not release them (the input is still read after, e.g. masked again).
        using var ids = Strings("530102199001011234", "53010219900101123X");
        using var masker = Masker(MaskingRule.KeepEnds(6, 4), StringType.Default);

        masker.Mask(ids).Dispose();
        var again = masker.Mask(ids);

        AssertTexts(again, ["530102********1234", "530102********123X"]);
        Assert.Equal("530102199001011234", ids.GetString(0));
    }

    [Fact]
    public void KeepEnds_AsciiColumn_BytesOfANullSlotDoNotGoOut()
    {
        // Arrow lets a null slot span bytes; whatever they are, they must not reach the client.
        var offsets = new ArrowBuffer.Builder<int>().Append(0).Append(4).Append(12).Append(16).Build();
        var bytes = new ArrowBuffer(Encoding.ASCII.GetBytes("ABCDSECRET12WXYZ"));
        var validity = new ArrowBuffer(new byte[] { 0b101 });
        var column = new StringArray(new ArrayData(StringType.Default, 3, 1, 0, [validity, offsets, bytes]));

        var masked = (StringArray)Masker(MaskingRule.KeepEnds(1, 1), StringType.Default).Mask(column);

        AssertTexts(masked, ["A**D", null, "W**Z"]);
        Assert.DoesNotContain("SECRET", Encoding.ASCII.GetString(masked.ValueBuffer.Span), StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_Strings_AllNullSameType()
    {
        using var masker = Masker(MaskingRule.Redact, StringType.Default);
        var masked = masker.Mask(Strings("530102199001011234", "x", null));

        Assert.IsType<StringType>(masker.OutputType);
        Assert.Equal(3, masked.Length);
        Assert.Equal(3, masked.NullCount);
        AssertTexts(masked, [null, null, null]);
    }

    [Fact]
    public void Redact_Decimal_AllNullSameType()
    {
        var type = new Decimal128Type(18, 2);
        var values = new Decimal128Array.Builder(type).Append(12.34m).Append(5m).Build();

        var masked = Masker(MaskingRule.Redact, type).Mask(values);

        var decimals = Assert.IsType<Decimal128Array>(masked);
        Assert.Equal(2, decimals.NullCount);
        Assert.Null(decimals.GetValue(0));
        Assert.Null(decimals.GetValue(1));
    }

    [Fact]
    public void None_Any_SameArray()
    {
        var names = Strings("张三");
        Assert.Same(names, Masker(MaskingRule.None, StringType.Default).Mask(names));
    }

    [Fact]
    public void Pseudonym_Value_IsDocumentedHmacOfDepartmentKey()
    {
        var key = PseudonymKey.Derive(NodeSecret, PoliceBureau);
        var expectedKey = new byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, NodeSecret, expectedKey, "govshare/pseudonym/v1"u8.ToArray(), Encoding.UTF8.GetBytes(PoliceBureau));
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(expectedKey, Encoding.UTF8.GetBytes("530102199001011234")).AsSpan(0, 16));

        var masked = Masker(MaskingRule.Pseudonym, StringType.Default, key).Mask(Strings("530102199001011234", null));

        AssertTexts(masked, [expected, null]);
    }

    [Fact]
    public void Pseudonym_SameDepartment_LinksAcrossBatchesAndTypes()
    {
        var key = PseudonymKey.Derive(NodeSecret, PoliceBureau);
        var text = Texts(Masker(MaskingRule.Pseudonym, StringType.Default, key).Mask(Strings("42", "43", "42")));
        var number = Texts(Masker(MaskingRule.Pseudonym, Int64Type.Default, key).Mask(new Int64Array.Builder().Append(42).Build()));

        Assert.Equal(text[0], text[2]);
        Assert.NotEqual(text[0], text[1]);
        Assert.Equal(text[0], number[0]);
        Assert.Matches("^[0-9a-f]{32}$", text[0]);
    }

    [Fact]
    public void Pseudonym_OtherDepartment_DoesNotLink()
    {
        var police = Texts(Masker(MaskingRule.Pseudonym, StringType.Default, PseudonymKey.Derive(NodeSecret, PoliceBureau)).Mask(Strings("530102199001011234")));
        var civil = Texts(Masker(MaskingRule.Pseudonym, StringType.Default, PseudonymKey.Derive(NodeSecret, CivilAffairs)).Mask(Strings("530102199001011234")));

        Assert.NotEqual(police[0], civil[0]);
    }

    [Fact]
    public void Pseudonym_KeyText_HidesTheKey()
    {
        var key = PseudonymKey.Derive(NodeSecret, PoliceBureau);
        Assert.Equal($"PseudonymKey({PoliceBureau}, ***)", key.ToString());
    }

    [Fact]
    public void GeneraliseDate_Date32_YearOrMonth()
    {
        var dates = new Date32Array.Builder().Append(new DateTime(1990, 1, 15, 0, 0, 0, DateTimeKind.Utc)).AppendNull().Append(new DateTime(1969, 12, 31, 0, 0, 0, DateTimeKind.Utc)).Build();

        AssertTexts(Masker(MaskingRule.GeneraliseDate(DatePrecision.Year), Date32Type.Default).Mask(dates), ["1990", null, "1969"]);
        AssertTexts(Masker(MaskingRule.GeneraliseDate(DatePrecision.Month), Date32Type.Default).Mask(dates), ["1990-01", null, "1969-12"]);
    }

    [Fact]
    public void GeneraliseDate_Date32_EveryDayOfTheRange_AsTheCalendarSpellsIt()
    {
        // The date32 path writes years and months itself; the calendar is the oracle, for the
        // range's ends, days around leap days, random days, nulls, values outside the range
        // (null: a masked column never carries what it could not read) and a sliced column.
        var random = new Random(20);
        var first = DateOnly.MinValue.DayNumber - 719162;
        var last = DateOnly.MaxValue.DayNumber - 719162;
        var days = new List<int?> { first, last, first - 1, last + 1, int.MinValue, int.MaxValue, null, 0, -1 };
        var leap = new DateOnly(2000, 2, 29).DayNumber - 719162;
        days.AddRange(Enumerable.Range(-2, 5).Select(d => (int?)(leap + d)));
        days.AddRange(Enumerable.Range(0, 2000).Select(_ => random.Next(8) == 0 ? (int?)null : random.Next(first, last + 1)));
        var builder = new Int32Array.Builder();
        foreach (var day in days)
        {
            if (day is { } d)
            {
                builder.Append(d);
            }
            else
            {
                builder.AppendNull();
            }
        }

        // Raw day numbers, out-of-range ones included (the date builder refuses them).
        var ints = builder.Build();
        var dates = new Date32Array(new ArrayData(Date32Type.Default, ints.Length, ints.NullCount, 0, ints.Data.Buffers));
        string? Spelled(int? day, string format) =>
            day is { } d && d >= first && d <= last ? DateOnly.FromDayNumber(d + 719162).ToString(format, System.Globalization.CultureInfo.InvariantCulture) : null;

        AssertTexts(Masker(MaskingRule.GeneraliseDate(DatePrecision.Year), Date32Type.Default).Mask(dates), [.. days.Select(d => Spelled(d, "yyyy"))]);
        AssertTexts(Masker(MaskingRule.GeneraliseDate(DatePrecision.Month), Date32Type.Default).Mask(dates), [.. days.Select(d => Spelled(d, "yyyy-MM"))]);
        var sliced = (Date32Array)dates.Slice(7, 100);
        AssertTexts(Masker(MaskingRule.GeneraliseDate(DatePrecision.Month), Date32Type.Default).Mask(sliced), [.. days.Skip(7).Take(100).Select(d => Spelled(d, "yyyy-MM"))]);
    }

    [Fact]
    public void GeneraliseDate_Date32WithoutNulls_EveryDayAroundTheYearTable_AsTheCalendarSpellsIt()
    {
        // The years path looks up the days of 1900-2099 in a table and asks the calendar for
        // the others: every day from a month before the table to a month after it, in order and
        // shuffled, against the calendar.
        var first = new DateOnly(1899, 12, 1).DayNumber - 719162;
        var last = new DateOnly(2100, 2, 1).DayNumber - 719162;
        var days = Enumerable.Range(first, last - first + 1).ToList();
        var ints = new Int32Array.Builder().AppendRange(days).AppendRange(days.OrderBy(_ => Random.Shared.Next())).Build();
        var dates = new Date32Array(new ArrayData(Date32Type.Default, ints.Length, 0, 0, ints.Data.Buffers));
        string?[] expected = [.. ints.Values.ToArray().Select(d => DateOnly.FromDayNumber(d + 719162).ToString("yyyy", System.Globalization.CultureInfo.InvariantCulture))];

        var masked = Assert.IsType<StringArray>(Masker(MaskingRule.GeneraliseDate(DatePrecision.Year), Date32Type.Default).Mask(dates));
        AssertTexts(masked, expected);
        Assert.Equal(0, masked.NullCount);
    }

    [Fact]
    public void GeneraliseDate_Date32WithoutNulls_Years_AsTheCalendarSpellsIt()
    {
        // A column without nulls takes the years-only path (four digits a value, offsets 0, 4,
        // 8, …, no validity bitmap); the calendar is the oracle, as above. A day off the calendar
        // sends the whole column down the general path (that value null), and a slice (null count
        // unknown) as well; arrays reused from an earlier batch must not show through.
        var random = new Random(21);
        var first = DateOnly.MinValue.DayNumber - 719162;
        var last = DateOnly.MaxValue.DayNumber - 719162;
        var leap = new DateOnly(2000, 2, 29).DayNumber - 719162;
        var days = new List<int> { first, last, 0, -1, first + 365, last - 365 };
        days.AddRange(Enumerable.Range(-2, 5).Select(d => leap + d));
        days.AddRange(Enumerable.Range(0, 3000).Select(_ => random.Next(first, last + 1)));
        static Date32Array Dates(IEnumerable<int> values)
        {
            var ints = new Int32Array.Builder().AppendRange(values).Build();
            return new Date32Array(new ArrayData(Date32Type.Default, ints.Length, 0, 0, ints.Data.Buffers));
        }

        string Spelled(int day) => DateOnly.FromDayNumber(day + 719162).ToString("yyyy", System.Globalization.CultureInfo.InvariantCulture);
        var years = Masker(MaskingRule.GeneraliseDate(DatePrecision.Year), Date32Type.Default);

        var masked = Assert.IsType<StringArray>(years.Mask(Dates(days)));
        AssertTexts(masked, [.. days.Select(Spelled)]);
        Assert.Equal(0, masked.NullCount);
        Assert.Equal(days.Count * 4, masked.ValueOffsets[days.Count]);

        // Reused arrays: longer than needed and full of an earlier batch's bytes.
        var buffers = new MaskingBuffers();
        buffers.Return([Enumerable.Repeat((byte)'x', 64 * 1024).ToArray(), Enumerable.Repeat((byte)0xFF, 64 * 1024).ToArray()]);
        var few = days.Take(50).ToList();
        AssertTexts(years.Mask(Dates(few), buffers), [.. few.Select(Spelled)]);

        var offCalendar = days.Take(20).Append(last + 1).ToList();
        AssertTexts(years.Mask(Dates(offCalendar)), [.. days.Take(20).Select(Spelled), null]);
        var sliced = (Date32Array)Dates(days).Slice(3, 200);
        AssertTexts(years.Mask(sliced), [.. days.Skip(3).Take(200).Select(Spelled)]);
    }

    [Fact]
    public void Mask_SlicedColumnWithNulls_NullsStayNull()
    {
        // A slice does not know its null count yet (-1): its nulls were once masked as values.
        var ids = (StringArray)Strings("530102199001011234", null, "530102199001015678", null).Slice(1, 3);
        var ages = new Int32Array.Builder().Append(30).AppendNull().Append(70).Build().Slice(1, 2);

        AssertTexts(Masker(MaskingRule.KeepEnds(6, 4), StringType.Default).Mask(ids), [null, "530102********5678", null]);
        AssertTexts(Masker(MaskingRule.Bucket(18, 60), Int32Type.Default).Mask(ages), [null, "[60,+∞)"]);
    }

    [Fact]
    public void GeneraliseDate_TimestampWithZone_UsesThatZonesCalendar()
    {
        // 1990-12-31T20:00Z is already 1991-01-01 04:00 in Kunming (UTC+8).
        var instant = new DateTimeOffset(1990, 12, 31, 20, 0, 0, TimeSpan.Zero);
        var shanghai = new TimestampType(TimeUnit.Millisecond, "Asia/Shanghai");
        var naive = new TimestampType(TimeUnit.Microsecond, (string?)null);
        var offset = new TimestampType(TimeUnit.Millisecond, "+08:00");

        var zoned = Masker(MaskingRule.GeneraliseDate(DatePrecision.Month), shanghai).Mask(new TimestampArray.Builder(shanghai).Append(instant).Build());
        var wallClock = Masker(MaskingRule.GeneraliseDate(DatePrecision.Month), naive).Mask(new TimestampArray.Builder(naive).Append(instant).Build());
        var fixedOffset = Masker(MaskingRule.GeneraliseDate(DatePrecision.Year), offset).Mask(new TimestampArray.Builder(offset).Append(instant).Build());

        AssertTexts(zoned, ["1991-01"]);
        AssertTexts(wallClock, ["1990-12"]);
        AssertTexts(fixedOffset, ["1991"]);
    }

    [Fact]
    public void GeneraliseDate_IsoText_GeneralisedOrNull()
    {
        var masked = Masker(MaskingRule.GeneraliseDate(DatePrecision.Month), StringType.Default)
            .Mask(Strings("1990-07-04", "1990-07-04T08:30:00+08:00", "1990-07", "1990", "1990-13-01", "1990-02-30", "04/07/1990", "", null));

        AssertTexts(masked, ["1990-07", "1990-07", "1990-07", "1990", null, null, null, null, null]);
    }

    [Fact]
    public void Bucket_Ages_RangeLabels()
    {
        var ages = new Int32Array.Builder().Append(0).Append(17).Append(18).Append(59).Append(60).Append(120).AppendNull().Build();
        using var masker = Masker(MaskingRule.Bucket(18, 60), Int32Type.Default);

        var masked = masker.Mask(ages);

        Assert.IsType<StringType>(masker.OutputType);
        AssertTexts(masked, ["(-∞,18)", "(-∞,18)", "[18,60)", "[18,60)", "[60,+∞)", "[60,+∞)", null]);
    }

    [Fact]
    public void Bucket_Doubles_FractionalBoundariesAndNaN()
    {
        var values = new DoubleArray.Builder().Append(0.1).Append(0.25).Append(2.5e6).Append(double.NaN).Append(double.NegativeInfinity).Build();

        var masked = Masker(MaskingRule.Bucket(0.25, 1e6), DoubleType.Default).Mask(values);

        AssertTexts(masked, ["(-∞,0.25)", "[0.25,1000000)", "[1000000,+∞)", null, "(-∞,0.25)"]);
    }

    [Fact]
    public void TryCreate_RuleNotDefinedForType_ListsEveryProblem()
    {
        var masker = ColumnMasker.TryCreate(new MaskingRule(MaskingKind.Bucket, Boundaries: [60, 18, double.NaN]), StringType.Default, null, out var errors);

        Assert.Null(masker);
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Contains("strictly ascending", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("not a finite number", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("not defined for utf8", StringComparison.Ordinal));
    }

    [Fact]
    public void TryCreate_PseudonymWithoutKey_Refused()
    {
        Assert.Null(ColumnMasker.TryCreate(MaskingRule.Pseudonym, StringType.Default, null, out var errors));
        Assert.Equal(["Pseudonym needs the user department's key."], errors);
    }

    [Fact]
    public void TryCreate_KeepEndsNegative_Refused()
    {
        Assert.Null(ColumnMasker.TryCreate(MaskingRule.KeepEnds(-1, 100), StringType.Default, null, out var errors));
        Assert.Equal(2, errors.Count);
    }

    [Fact]
    public void TryCreate_UnknownTimeZone_Refused()
    {
        var type = new TimestampType(TimeUnit.Millisecond, "Mars/Olympus");
        Assert.Null(ColumnMasker.TryCreate(MaskingRule.GeneraliseDate(DatePrecision.Year), type, null, out var errors));
        Assert.Contains("Mars/Olympus", errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void OutputTypeOf_EveryRuleAndItemType_MatchesTheTable()
    {
        Assert.Same(Int32Type.Default, ColumnMasker.OutputTypeOf(MaskingKind.Redact, Int32Type.Default));
        Assert.IsType<StringType>(ColumnMasker.OutputTypeOf(MaskingKind.Pseudonym, BinaryType.Default));
        Assert.IsType<StringType>(ColumnMasker.OutputTypeOf(MaskingKind.GeneraliseDate, Date32Type.Default));
        Assert.Null(ColumnMasker.OutputTypeOf(MaskingKind.KeepEnds, DoubleType.Default));
        Assert.Null(ColumnMasker.OutputTypeOf(MaskingKind.Bucket, Date32Type.Default));
        Assert.Null(ColumnMasker.OutputTypeOf(MaskingKind.GeneraliseDate, Int64Type.Default));
        Assert.Null(ColumnMasker.OutputTypeOf(MaskingKind.Pseudonym, BooleanType.Default));
    }

    [Fact]
    public void MaskingRule_EqualBoundaries_Equal()
    {
        Assert.Equal(MaskingRule.Bucket(18, 60), MaskingRule.Bucket(18, 60));
        Assert.NotEqual(MaskingRule.Bucket(18, 60), MaskingRule.Bucket(18, 65));
    }

    [Fact]
    public void PseudonymSecret_LoadOrCreate_StableAndOwnerOnly()
    {
        var folder = Directory.CreateTempSubdirectory("govshare-secret-").FullName;
        try
        {
            var first = PseudonymSecret.LoadOrCreate(folder);
            var second = PseudonymSecret.LoadOrCreate(folder);

            Assert.Equal(32, first.Length);
            Assert.Equal(first, second);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, PseudonymSecret.FileName)));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
