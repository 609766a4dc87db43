using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Desensitisation;

/// <summary>
/// Applies one <see cref="MaskingRule"/> to one column, batch by batch. Created once per
/// (rule, input type, user department) — parameters are checked and labels precomputed then —
/// and used for every batch of a pull. Reads the input's buffers directly and writes the output's
/// buffers directly: no value is boxed or turned into a string on the way.
/// </summary>
/// <remarks>
/// Output type of each rule, by input type (anything not listed is refused at creation):
/// <list type="table">
/// <item><term>None</term><description>any type → the same type, the same array.</description></item>
/// <item><term>Redact</term><description>any type → the same type, every value null.</description></item>
/// <item><term>KeepEnds</term><description>utf8, int32, int64 → utf8 (on characters, i.e. Unicode scalar values, not bytes).</description></item>
/// <item><term>Pseudonym</term><description>utf8, binary, int32, int64 → utf8, 32 lowercase hex digits (the first 128 bits of HMAC-SHA256 over the value's UTF-8 text, integers in invariant decimal, so an ID stored as text or number links).</description></item>
/// <item><term>GeneraliseDate</term><description>date32, timestamp[ms|us], utf8 ISO-8601 → utf8 <c>1990</c> or <c>1990-01</c>.</description></item>
/// <item><term>Bucket</term><description>int32, int64, float64 → utf8 range label <c>(-∞,18)</c>, <c>[18,60)</c>, <c>[60,+∞)</c>.</description></item>
/// </list>
/// Nulls stay null. A value a rule cannot read (an unparseable date, NaN) becomes null, so a
/// masked column never leaks a value it failed to mask. A masker is not thread-safe; dispose it
/// when the pull ends.
/// </remarks>
public sealed class ColumnMasker : IDisposable
{
    private const long UnixEpochDayNumber = 719162;
    private static readonly byte[] HexDigits = "0123456789abcdef"u8.ToArray();

    private readonly MaskingRule _rule;
    private readonly IArrowType _input;
    private readonly IncrementalHash? _hmac;
    private readonly byte[][] _bucketLabels = [];
    private readonly double[] _boundaries = [];
    private readonly TimeZoneInfo? _zone;

    private ColumnMasker(MaskingRule rule, IArrowType input, IArrowType output, PseudonymKey? key, TimeZoneInfo? zone)
    {
        _rule = rule;
        _input = input;
        OutputType = output;
        _zone = zone;
        if (rule.Kind == MaskingKind.Pseudonym)
        {
            // One HMAC context reused for every value: a third of the cost of a one-shot HMAC.
            _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key!.Key);
        }

        if (rule.Kind == MaskingKind.Bucket)
        {
            _boundaries = [.. rule.Boundaries!];
            _bucketLabels = BucketLabels(_boundaries);
        }
    }

    /// <summary>The Arrow type of the masked column.</summary>
    public IArrowType OutputType { get; }

    /// <summary>
    /// Creates the masker of <paramref name="rule"/> for a column of <paramref name="input"/>,
    /// or returns every reason it cannot (bad parameters, a rule not defined for the type, no key).
    /// </summary>
    public static ColumnMasker? TryCreate(MaskingRule rule, IArrowType input, PseudonymKey? key, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(input);
        var list = new List<string>(rule.Validate());
        var output = OutputTypeOf(rule.Kind, input);
        if (output is null)
        {
            list.Add($"{rule.Kind} is not defined for {input.Name} items.");
        }

        if (rule.Kind == MaskingKind.Pseudonym && key is null)
        {
            list.Add("Pseudonym needs the user department's key.");
        }

        TimeZoneInfo? zone = null;
        if (rule.Kind == MaskingKind.GeneraliseDate && input is TimestampType { Timezone: { Length: > 0 } tz })
        {
            zone = FindZone(tz);
            if (zone is null)
            {
                list.Add($"GeneraliseDate: the timestamp time zone '{tz}' is unknown.");
            }
        }

        errors = list;
        return list.Count == 0 ? new ColumnMasker(rule, input, output!, key, zone) : null;
    }

    /// <summary>The output type of a rule on an input type; null when the rule is not defined for it.</summary>
    public static IArrowType? OutputTypeOf(MaskingKind kind, IArrowType input) => kind switch
    {
        MaskingKind.None or MaskingKind.Redact => input,
        MaskingKind.KeepEnds => input is StringType or Int32Type or Int64Type ? StringType.Default : null,
        MaskingKind.Pseudonym => input is StringType or BinaryType or Int32Type or Int64Type ? StringType.Default : null,
        MaskingKind.GeneraliseDate => input is Date32Type or StringType || input is TimestampType { Unit: TimeUnit.Millisecond or TimeUnit.Microsecond } ? StringType.Default : null,
        MaskingKind.Bucket => input is Int32Type or Int64Type or DoubleType ? StringType.Default : null,
        _ => null,
    };

    /// <summary>Releases the HMAC context of a pseudonym masker.</summary>
    public void Dispose() => _hmac?.Dispose();

    /// <summary>
    /// Masks one validated column. The result may share buffers with the input (rule None; the
    /// validity and offsets of a KeepEnds column whose values are all ASCII), so it is written
    /// before the input is disposed.
    /// </summary>
    public IArrowArray Mask(IArrowArray column) => Mask(column, null);

    /// <summary>As <see cref="Mask(IArrowArray)"/>, writing into <paramref name="buffers"/> (reused within a pull) when given.</summary>
    internal IArrowArray Mask(IArrowArray column, MaskingBuffers? buffers)
    {
        ArgumentNullException.ThrowIfNull(column);
        var data = column.Data;
        if (data.DataType.TypeId != _input.TypeId)
        {
            throw new ArgumentException($"The masker was made for {_input.Name}, not {data.DataType.Name}.", nameof(column));
        }

        return _rule.Kind switch
        {
            MaskingKind.None => column,
            MaskingKind.Redact => Redact(data),
            MaskingKind.KeepEnds => KeepEnds(data, buffers),
            MaskingKind.Pseudonym => Pseudonymise(data, buffers),
            MaskingKind.GeneraliseDate => GeneraliseDate(data, buffers),
            MaskingKind.Bucket => Bucketise(data, buffers),
            _ => throw new InvalidOperationException($"No masking for {_rule.Kind}."),
        };
    }

    private static IArrowArray Redact(ArrayData data)
    {
        var n = data.Length;
        var validity = new ArrowBuffer(new byte[(n + 7) / 8]);
        ArrowBuffer[] buffers = data.DataType switch
        {
            StringType or BinaryType => [validity, new ArrowBuffer(new byte[(n + 1) * 4]), ArrowBuffer.Empty],
            BooleanType => [validity, new ArrowBuffer(new byte[(n + 7) / 8])],
            FixedWidthType fixedWidth => [validity, new ArrowBuffer(new byte[n * (long)fixedWidth.BitWidth / 8 is var b && b <= System.Array.MaxLength ? (int)b : throw new InvalidOperationException("Column too large.")])],
            _ => throw new InvalidOperationException($"Cannot redact {data.DataType.Name}."),
        };
        return ArrowArrayFactory.BuildArray(new ArrayData(data.DataType, n, n, 0, buffers));
    }

    private StringArray KeepEnds(ArrayData data, MaskingBuffers? buffers)
    {
        if (data.DataType is StringType && KeepEndsAscii(data, buffers) is { } ascii)
        {
            return ascii;
        }

        var writer = new Utf8ColumnWriter(data.Length, EstimatedBytes(data), buffers);
        Span<byte> number = stackalloc byte[24];
        var column = new ColumnReader(data);
        for (var i = 0; i < data.Length; i++)
        {
            if (!column.IsValid(i))
            {
                writer.AppendNull();
                continue;
            }

            ReadOnlySpan<byte> text = data.DataType switch
            {
                StringType => column.Bytes(i),
                Int32Type => number[..Format(column.Int32(i), number)],
                _ => number[..Format(column.Int64(i), number)],
            };
            WriteKeepEnds(text, _rule.Keep, _rule.KeepEnd, writer);
        }

        return writer.Build();
    }

    /// <summary>
    /// KeepEnds of a text column whose values are all ASCII (ID numbers, phone numbers, codes):
    /// a character is a byte, so every masked value is as long as the original and the output
    /// has the input's offsets and validity. The values are copied once and the middle of each
    /// overwritten with <c>*</c>; no value is decoded. Null when the column does not qualify
    /// (non-ASCII bytes, a sliced array), and the general path runs.
    /// </summary>
    private StringArray? KeepEndsAscii(ArrayData data, MaskingBuffers? buffers)
    {
        var n = data.Length;
        if (data.Offset != 0 || !BitConverter.IsLittleEndian || data.Buffers[1].Length < (n + 1) * 4)
        {
            return null;
        }

        var offsets = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(data.Buffers[1].Span)[..(n + 1)];
        var end = offsets[n];
        var values = data.Buffers[2].Span;
        if (offsets[0] != 0 || end < 0 || end > values.Length || !System.Text.Ascii.IsValid(values[..end]))
        {
            return null;
        }

        var masked = buffers?.Take(Math.Max(1, end)) ?? new byte[Math.Max(1, end)];
        var output = masked.AsSpan(0, end);
        values[..end].CopyTo(output);
        var validity = data.Buffers[0].Span;
        // NullCount is -1 (not yet counted) for a slice: then the bitmap decides.
        var hasNulls = data.NullCount != 0 && !validity.IsEmpty;
        var keep = _rule.Keep;
        var keepEnd = _rule.KeepEnd;
        for (var i = 0; i < n; i++)
        {
            var start = offsets[i];
            var length = offsets[i + 1] - start;
            if (hasNulls && (validity[i >> 3] & (1 << (i & 7))) == 0)
            {
                // A null's bytes (normally none) are not a value, but they go out with the buffer.
                output.Slice(start, length).Fill((byte)'*');
                continue;
            }

            // As WriteKeepEnds: at least one character masked, the trailing part shrinks first.
            var hidden = Math.Max(1, length - keep - keepEnd);
            var head = Math.Min(keep, length - hidden);
            if (length > 0)
            {
                output.Slice(start + head, hidden).Fill((byte)'*');
            }
        }

        // The input's validity and offsets as views, not as the input's own buffers: disposing the
        // output must not release memory the input owns (a built array's buffers have owners).
        return new StringArray(new ArrayData(StringType.Default, n, data.NullCount, 0, [new ArrowBuffer(data.Buffers[0].Memory), new ArrowBuffer(data.Buffers[1].Memory), new ArrowBuffer(masked.AsMemory(0, end))]));
    }

    /// <summary>
    /// Keeps <paramref name="keep"/> leading and <paramref name="keepEnd"/> trailing characters.
    /// At least one character is always masked: when the value is too short, the trailing part
    /// shrinks first, then the leading part (<c>张三</c> with 1,1 becomes <c>张*</c>).
    /// </summary>
    internal static void WriteKeepEnds(ReadOnlySpan<byte> utf8, int keep, int keepEnd, Utf8ColumnWriter writer)
    {
        var chars = 0;
        for (var at = 0; at < utf8.Length; chars++)
        {
            Rune.DecodeFromUtf8(utf8[at..], out _, out var used);
            at += used;
        }

        if (chars == 0)
        {
            writer.Append([]);
            return;
        }

        var masked = Math.Max(1, chars - keep - keepEnd);
        var head = Math.Min(keep, chars - masked);

        var headBytes = 0;
        for (var c = 0; c < head; c++)
        {
            Rune.DecodeFromUtf8(utf8[headBytes..], out _, out var used);
            headBytes += used;
        }

        var tailStart = headBytes;
        for (var c = 0; c < masked; c++)
        {
            Rune.DecodeFromUtf8(utf8[tailStart..], out _, out var used);
            tailStart += used;
        }

        var tailBytes = utf8.Length - tailStart;
        var output = writer.Reserve(headBytes + masked + tailBytes);
        utf8[..headBytes].CopyTo(output);
        output.Slice(headBytes, masked).Fill((byte)'*');
        utf8[tailStart..].CopyTo(output[(headBytes + masked)..]);
        writer.Commit(output.Length);
    }

    private StringArray Pseudonymise(ArrayData data, MaskingBuffers? buffers)
    {
        var writer = new Utf8ColumnWriter(data.Length, data.Length * 32, buffers);
        Span<byte> number = stackalloc byte[24];
        Span<byte> mac = stackalloc byte[32];
        var column = new ColumnReader(data);
        for (var i = 0; i < data.Length; i++)
        {
            if (!column.IsValid(i))
            {
                writer.AppendNull();
                continue;
            }

            ReadOnlySpan<byte> value = data.DataType switch
            {
                StringType or BinaryType => column.Bytes(i),
                Int32Type => number[..Format(column.Int32(i), number)],
                _ => number[..Format(column.Int64(i), number)],
            };
            _hmac!.AppendData(value);
            _hmac.GetHashAndReset(mac);
            var hex = writer.Reserve(32);
            for (var b = 0; b < 16; b++)
            {
                hex[2 * b] = HexDigits[mac[b] >> 4];
                hex[(2 * b) + 1] = HexDigits[mac[b] & 0xF];
            }

            writer.Commit(32);
        }

        return writer.Build();
    }

    private StringArray GeneraliseDate(ArrayData data, MaskingBuffers? buffers)
    {
        var month = _rule.Precision == DatePrecision.Month;
        if (data.DataType is Date32Type && !month && YearsOfDays(data, buffers) is { } years)
        {
            return years;
        }

        var writer = new Utf8ColumnWriter(data.Length, data.Length * (month ? 7 : 4), buffers);
        var column = new ColumnReader(data);
        if (data.DataType is Date32Type)
        {
            GeneraliseDays(column, data.Length, month, writer);
            return writer.Build();
        }

        for (var i = 0; i < data.Length; i++)
        {
            (int Year, int Month)? date = !column.IsValid(i) ? null : data.DataType switch
            {
                Date32Type => FromDays(column.Int32(i)),
                TimestampType t => FromTimestamp(column.Int64(i), t.Unit),
                _ => FromIsoText(column.Bytes(i)),
            };
            if (date is not { } d)
            {
                writer.AppendNull();
                continue;
            }

            // A text date with only a year stays a year: generalising never invents precision.
            var withMonth = month && d.Month > 0;
            var output = writer.Reserve(withMonth ? 7 : 4);
            WriteDigits(output[..4], d.Year);
            if (withMonth)
            {
                output[4] = (byte)'-';
                WriteDigits(output.Slice(5, 2), d.Month);
            }

            writer.Commit(output.Length);
        }

        return writer.Build();
    }

    /// <summary>
    /// Date32 (birth dates, the common case) without the per-value type switch and nullable
    /// tuple of the general loop, and for year precision without computing the month: the same
    /// answers as <see cref="FromDays"/> (a test compares them).
    /// </summary>
    private static void GeneraliseDays(ColumnReader column, int length, bool month, Utf8ColumnWriter writer)
    {
        for (var i = 0; i < length; i++)
        {
            var dayNumber = column.IsValid(i) ? UnixEpochDayNumber + column.Int32(i) : -1;
            if (dayNumber < DateOnly.MinValue.DayNumber || dayNumber > DateOnly.MaxValue.DayNumber)
            {
                writer.AppendNull();
                continue;
            }

            var day = DateOnly.FromDayNumber((int)dayNumber);
            if (month)
            {
                day.Deconstruct(out var year, out var monthOfYear, out _);
                var output = writer.Reserve(7);
                WriteDigits(output[..4], year);
                output[4] = (byte)'-';
                WriteDigits(output.Slice(5, 2), monthOfYear);
                writer.Commit(7);
            }
            else
            {
                WriteDigits(writer.Reserve(4), day.Year);
                writer.Commit(4);
            }
        }
    }

    /// <summary>
    /// Year precision of a date32 column without nulls whose days are all on the calendar (birth
    /// dates, the common case): every output value is four digits, so the offsets are 0, 4, 8, …
    /// and no slot is null; the loop only finds each year and writes its digits as one int. The
    /// same answers as <see cref="GeneraliseDays"/> (a test compares them with the calendar). Null
    /// when the column does not qualify (a null, an unknown null count as in a slice, a day off
    /// the calendar, which the general path makes a null) and the general path runs.
    /// </summary>
    private static StringArray? YearsOfDays(ArrayData data, MaskingBuffers? buffers)
    {
        var n = data.Length;
        if (data.NullCount != 0 || !BitConverter.IsLittleEndian || n > (System.Array.MaxLength / 4) - 1)
        {
            return null;
        }

        var days = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(data.Buffers[1].Span);
        if (days.Length < data.Offset + n)
        {
            return null;
        }

        days = days.Slice(data.Offset, n);
        const int FirstDay = -(int)UnixEpochDayNumber;
        var lastDay = DateOnly.MaxValue.DayNumber - (int)UnixEpochDayNumber;
        foreach (var day in days)
        {
            if (day < FirstDay || day > lastDay)
            {
                return null;
            }
        }

        var text = buffers?.Take(Math.Max(1, n * 4)) ?? new byte[Math.Max(1, n * 4)];
        var offsets = buffers?.Take((n + 1) * 4) ?? new byte[(n + 1) * 4];
        var years = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(text.AsSpan(0, n * 4));
        var ends = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(offsets.AsSpan(0, (n + 1) * 4));
        ends[0] = 0;
        var table = YearTable.Years;
        for (var i = 0; i < n; i++)
        {
            // Birth dates fall in the table's two centuries: one look-up instead of the calendar
            // and the digits (~10 ns a row, the masking's largest step in the large pull's profile).
            var inTable = (uint)(days[i] - YearTable.FirstDay);
            years[i] = inTable < (uint)table.Length ? table[inTable] : YearTable.Digits(DateOnly.FromDayNumber(days[i] + (int)UnixEpochDayNumber).Year);
            ends[i + 1] = (i + 1) * 4;
        }

        // No validity bitmap: the null count is 0, so every slot is valid.
        return new StringArray(new ArrayData(StringType.Default, n, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(offsets.AsMemory(0, (n + 1) * 4)), new ArrowBuffer(text.AsMemory(0, n * 4))]));
    }

    /// <summary>
    /// The year of every day from 1900-01-01 to 2099-12-31 as its four ASCII digits (first digit
    /// in the lowest byte): 73,049 ints, 292 KB, built once from the calendar on first use.
    /// </summary>
    private static class YearTable
    {
        public static readonly int FirstDay = new DateOnly(1900, 1, 1).DayNumber - (int)UnixEpochDayNumber;
        public static readonly int[] Years = Build();

        /// <summary>A year of 0–9999 as four ASCII digits, first digit in the lowest byte (little-endian).</summary>
        public static int Digits(int year) =>
            ('0' + (year / 1000)) | (('0' + (year / 100 % 10)) << 8) | (('0' + (year / 10 % 10)) << 16) | (('0' + (year % 10)) << 24);

        private static int[] Build()
        {
            var first = new DateOnly(1900, 1, 1).DayNumber;
            var years = new int[new DateOnly(2100, 1, 1).DayNumber - first];
            for (var i = 0; i < years.Length; i++)
            {
                years[i] = Digits(DateOnly.FromDayNumber(first + i).Year);
            }

            return years;
        }
    }

    private static (int, int)? FromDays(int days)
    {
        var dayNumber = UnixEpochDayNumber + days;
        if (dayNumber < DateOnly.MinValue.DayNumber || dayNumber > DateOnly.MaxValue.DayNumber)
        {
            return null;
        }

        // One calendar computation for both parts (Year and Month would each do it again).
        DateOnly.FromDayNumber((int)dayNumber).Deconstruct(out var year, out var month, out _);
        return (year, month);
    }

    private (int, int)? FromTimestamp(long value, TimeUnit unit)
    {
        var ticksPerUnit = unit == TimeUnit.Millisecond ? TimeSpan.TicksPerMillisecond : 10L;
        var maxUnits = (DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks) / ticksPerUnit;
        var minUnits = -DateTime.UnixEpoch.Ticks / ticksPerUnit;
        if (value < minUnits || value > maxUnits)
        {
            return null;
        }

        var instant = new DateTime(DateTime.UnixEpoch.Ticks + (value * ticksPerUnit), DateTimeKind.Utc);
        if (_zone is not null)
        {
            // With a time zone Arrow stores UTC instants; the date is the one on that zone's calendar.
            var offset = _zone.GetUtcOffset(instant);
            var localTicks = instant.Ticks + offset.Ticks;
            if (localTicks < DateTime.MinValue.Ticks || localTicks > DateTime.MaxValue.Ticks)
            {
                return null;
            }

            instant = new DateTime(localTicks, DateTimeKind.Unspecified);
        }

        return (instant.Year, instant.Month);
    }

    /// <summary>ISO-8601 <c>YYYY</c>, <c>YYYY-MM</c> or <c>YYYY-MM-DD…</c>; month 0 when absent.</summary>
    internal static (int, int)? FromIsoText(ReadOnlySpan<byte> text)
    {
        if (text.Length < 4 || !Digits(text[..4], out var year) || year == 0)
        {
            return null;
        }

        if (text.Length == 4)
        {
            return (year, 0);
        }

        if (text.Length < 7 || text[4] != '-' || !Digits(text.Slice(5, 2), out var month) || month is < 1 or > 12)
        {
            return null;
        }

        if (text.Length == 7)
        {
            return (year, month);
        }

        if (text.Length < 10 || text[7] != '-' || !Digits(text.Slice(8, 2), out var day) || day < 1 || day > DateTime.DaysInMonth(year, month)
            || (text.Length > 10 && text[10] is not ((byte)'T' or (byte)' ')))
        {
            return null;
        }

        return (year, month);
    }

    private static bool Digits(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        foreach (var b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    private static void WriteDigits(Span<byte> output, int value)
    {
        for (var i = output.Length - 1; i >= 0; i--)
        {
            output[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    private StringArray Bucketise(ArrayData data, MaskingBuffers? buffers)
    {
        var writer = new Utf8ColumnWriter(data.Length, data.Length * 8, buffers);
        var column = new ColumnReader(data);
        for (var i = 0; i < data.Length; i++)
        {
            if (!column.IsValid(i))
            {
                writer.AppendNull();
                continue;
            }

            double value = data.DataType switch
            {
                Int32Type => column.Int32(i),
                Int64Type => column.Int64(i),
                _ => column.Double(i),
            };
            if (double.IsNaN(value))
            {
                writer.AppendNull();
                continue;
            }

            writer.Append(_bucketLabels[BucketOf(value)]);
        }

        return writer.Build();
    }

    private int BucketOf(double value)
    {
        // Label k covers [boundary k-1, boundary k); label 0 is below the first boundary.
        var index = System.Array.BinarySearch(_boundaries, value);
        return index >= 0 ? index + 1 : ~index;
    }

    internal static byte[][] BucketLabels(double[] boundaries)
    {
        var labels = new byte[boundaries.Length + 1][];
        labels[0] = Encoding.UTF8.GetBytes($"(-∞,{Number(boundaries[0])})");
        for (var i = 1; i < boundaries.Length; i++)
        {
            labels[i] = Encoding.UTF8.GetBytes($"[{Number(boundaries[i - 1])},{Number(boundaries[i])})");
        }

        labels[^1] = Encoding.UTF8.GetBytes($"[{Number(boundaries[^1])},+∞)");
        return labels;
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static int Format(long value, Span<byte> output) =>
        Utf8Formatter.TryFormat(value, output, out var written) ? written : throw new InvalidOperationException("A 64-bit integer needs at most 20 bytes.");

    private static int EstimatedBytes(ArrayData data) =>
        data.DataType is StringType ? Math.Max(16, data.Buffers[2].Length) : data.Length * 12;

    private static TimeZoneInfo? FindZone(string zone)
    {
        if (zone is "UTC" or "Z" or "Etc/UTC")
        {
            return TimeZoneInfo.Utc;
        }

        // Arrow allows fixed offsets such as "+08:00" besides tz database names.
        if (zone.Length == 6 && zone[0] is '+' or '-' && TimeSpan.TryParseExact(zone.AsSpan(1), @"hh\:mm", CultureInfo.InvariantCulture, out var offset))
        {
            return TimeZoneInfo.CreateCustomTimeZone(zone, zone[0] == '-' ? -offset : offset, zone, zone);
        }

        return TimeZoneInfo.TryFindSystemTimeZoneById(zone, out var found) ? found : null;
    }

    /// <summary>Reads values of a validated array straight from its buffers.</summary>
    private readonly ref struct ColumnReader
    {
        private readonly ReadOnlySpan<byte> _validity;
        private readonly ReadOnlySpan<byte> _values;
        private readonly ReadOnlySpan<byte> _bytes;
        private readonly int _offset;
        private readonly bool _hasNulls;

        public ColumnReader(ArrayData data)
        {
            _validity = data.Buffers[0].Span;
            _values = data.Buffers[1].Span;
            _bytes = data.Buffers.Length > 2 ? data.Buffers[2].Span : default;
            _offset = data.Offset;
            // NullCount is -1 (not yet counted) for a slice (Apache.Arrow 23): then the bitmap decides;
            // taken as "no nulls", a sliced column's nulls were masked as values.
            _hasNulls = data.NullCount != 0 && !_validity.IsEmpty;
        }

        public bool IsValid(int i)
        {
            var at = _offset + i;
            return !_hasNulls || (_validity[at >> 3] & (1 << (at & 7))) != 0;
        }

        public int Int32(int i) => BinaryPrimitives.ReadInt32LittleEndian(_values.Slice((_offset + i) * 4, 4));

        public long Int64(int i) => BinaryPrimitives.ReadInt64LittleEndian(_values.Slice((_offset + i) * 8, 8));

        public double Double(int i) => BinaryPrimitives.ReadDoubleLittleEndian(_values.Slice((_offset + i) * 8, 8));

        public ReadOnlySpan<byte> Bytes(int i)
        {
            var start = BinaryPrimitives.ReadInt32LittleEndian(_values.Slice((_offset + i) * 4, 4));
            var end = BinaryPrimitives.ReadInt32LittleEndian(_values.Slice((_offset + i + 1) * 4, 4));
            return _bytes[start..end];
        }
    }
}
