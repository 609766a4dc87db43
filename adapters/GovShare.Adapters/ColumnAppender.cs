using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>
/// Converts source values of one column into an Arrow array of its item's type. A value that does
/// not convert appends a null and returns why, so the caller reports row and column.
/// </summary>
internal abstract class ColumnAppender
{
    private static readonly string[] DateFormats = ["yyyy-MM-dd", "yyyy/MM/dd", "yyyyMMdd", "yyyy-M-d", "yyyy/M/d"];

    private static readonly string[] LocalTimestampFormats =
    [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy/MM/dd HH:mm:ss", "yyyy/M/d H:mm:ss", "yyyy/M/d H:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd",
    ];

    public abstract int Length { get; }

    /// <summary>
    /// <c>yyyy-MM-dd</c> exactly (ASCII digits), a valid date: what <c>DateOnly.TryParseExact</c>
    /// gives for that format, without its general format interpreter (a large part of a CSV
    /// push's CPU). False for anything else; the caller then parses as before.
    /// </summary>
    internal static bool TryParseIsoDate(ReadOnlySpan<char> text, out DateOnly date)
    {
        date = default;
        if (text.Length != 10 || text[4] != '-' || text[7] != '-'
            || !TryDigits(text[..4], out var year) || !TryDigits(text.Slice(5, 2), out var month) || !TryDigits(text.Slice(8, 2), out var day)
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        date = new DateOnly(year, month, day);
        return true;
    }

    /// <summary>
    /// <c>yyyy-MM-dd HH:mm:ss</c> or <c>yyyy-MM-dd'T'HH:mm:ss</c>, optionally with <c>.</c> and one
    /// to six fraction digits, exactly (ASCII digits), a valid date and time: what
    /// <c>DateTime.TryParseExact</c> gives for the first local formats (an unspecified-kind time).
    /// False for anything else; the caller then parses as before.
    /// </summary>
    internal static bool TryParseIsoLocalTimestamp(ReadOnlySpan<char> text, out DateTime local)
    {
        local = default;
        if (text.Length < 19 || text.Length == 20 || text.Length > 26 || (text[10] != ' ' && text[10] != 'T')
            || !TryParseIsoDate(text[..10], out var date) || text[13] != ':' || text[16] != ':'
            || !TryDigits(text.Slice(11, 2), out var hour) || !TryDigits(text.Slice(14, 2), out var minute) || !TryDigits(text.Slice(17, 2), out var second)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var ticks = 0L;
        if (text.Length > 19)
        {
            if (text[19] != '.' || !TryDigits(text[20..], out var fraction))
            {
                return false;
            }

            for (var places = text.Length - 20; places < 7; places++)
            {
                fraction *= 10; // to ticks (seven places)
            }

            ticks = fraction;
        }

        local = date.ToDateTime(new TimeOnly(hour, minute, second)).AddTicks(ticks);
        return true;
    }

    private static bool TryDigits(ReadOnlySpan<char> digits, out int value)
    {
        value = 0;
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }

    /// <summary>Appends a text value (CSV, JSON strings). Null and empty text are nulls, except for utf8 where empty is kept.</summary>
    public abstract string? AppendText(string? text);

    /// <summary>
    /// Appends a non-null text value from a span (a CSV cell in the reader's buffer): exactly what
    /// <see cref="AppendText"/> does with the same text as a string — same value, same error. The
    /// typed appenders parse the span itself, so a number, date or timestamp makes no string.
    /// </summary>
    public virtual string? AppendChars(ReadOnlySpan<char> text) => AppendText(new string(text));

    /// <summary>Appends a value as ADO.NET or a JSON reader gives it.</summary>
    public virtual string? AppendValue(object? value) => value switch
    {
        null or DBNull => AppendText(null),
        string s => AppendText(s),
        IFormattable f => AppendText(f.ToString(null, CultureInfo.InvariantCulture)),
        _ => AppendText(value.ToString()),
    };

    // Typed appends: by default the boxed value goes through AppendValue, so every item type
    // converts a typed value exactly as it converts the same value from a data reader; the
    // appenders override the ones of their own type to skip the box.
    public virtual string? AppendInt32(int value) => AppendValue(value);

    public virtual string? AppendInt64(long value) => AppendValue(value);

    public virtual string? AppendDouble(double value) => AppendValue(value);

    public virtual string? AppendBoolean(bool value) => AppendValue(value);

    public virtual string? AppendDecimal(decimal value) => AppendValue(value);

    /// <summary><c>±magnitude · 10^−scale</c>: by default exactly what <see cref="AppendDecimal(decimal)"/> does with that decimal.</summary>
    public virtual string? AppendDecimal(ulong magnitude, int scale, bool negative) => AppendDecimal(ToDecimal(magnitude, scale, negative));

    public static decimal ToDecimal(ulong magnitude, int scale, bool negative) =>
        new((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, negative, (byte)scale);

    public virtual string? AppendDate(DateOnly value) => AppendValue(value);

    public virtual string? AppendDateTime(DateTime value) => AppendValue(value);

    /// <summary>Text as (valid) UTF-8 bytes.</summary>
    public virtual string? AppendUtf8(ReadOnlySpan<byte> value) => AppendValue(System.Text.Encoding.UTF8.GetString(value));

    public virtual string? AppendBytes(ReadOnlySpan<byte> value) => AppendValue(value.ToArray());

    public abstract IArrowArray Build();

    /// <summary>Rows the next batch will hold (the assembler's batch size): its buffers are allocated once at that size.</summary>
    public virtual int ExpectedRows
    {
        set
        {
        }
    }

    /// <param name="type">The item type.</param>
    /// <param name="assumedOffset">The offset of local times written without one.</param>
    /// <param name="timestampFormat">The one format text timestamps are in (<see cref="ReadOptions.TimestampFormat"/>); null: the usual forms.</param>
    /// <param name="dateFormat">The one format text dates are in (<see cref="ReadOptions.DateFormat"/>); null: the usual forms.</param>
    public static ColumnAppender For(ItemDataType type, TimeSpan assumedOffset, string? timestampFormat = null, string? dateFormat = null) => type.Kind switch
    {
        ItemTypeKind.Utf8 => new Utf8Appender(),
        ItemTypeKind.Int32 => new Int32Appender(),
        ItemTypeKind.Int64 => new Int64Appender(),
        ItemTypeKind.Float64 => new Float64Appender(),
        ItemTypeKind.Boolean => new BooleanAppender(),
        ItemTypeKind.Date32 => new Date32Appender(dateFormat is null ? DateFormats : [dateFormat]),
        ItemTypeKind.Timestamp => new TimestampAppender(assumedOffset, timestampFormat),
        ItemTypeKind.Decimal128 => new DecimalAppender(type.Precision, type.Scale),
        ItemTypeKind.Binary => new BinaryAppender(),
        _ => throw new InvalidOperationException($"Unknown item type {type.Kind}."),
    };

    private sealed class Utf8Appender() : VariableWidthAppender(StringType.Default)
    {
        public override string? AppendText(string? text)
        {
            if (text is null)
            {
                AppendNull();
            }
            else
            {
                AppendChars(text);
            }

            return null;
        }

        public override string? AppendUtf8(ReadOnlySpan<byte> value)
        {
            Append(value);
            return null;
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            // UTF-8 as Arrow's builder encoded a string (a lone surrogate replaced), straight into the buffer.
            var space = ReserveValue(System.Text.Encoding.UTF8.GetMaxByteCount(text.Length));
            CommitValue(System.Text.Encoding.UTF8.GetBytes(text, space));
            return null;
        }

        public override string? AppendValue(object? value) => value switch
        {
            DateTime d => AppendText(d.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture)),
            DateOnly d => AppendText(d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            byte[] b => AppendText(Convert.ToBase64String(b)),
            bool b => AppendText(b ? "true" : "false"),
            _ => base.AppendValue(value),
        };
    }

    private sealed class Int32Appender() : FixedWidthAppender(Int32Type.Default, 4)
    {

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                AppendNull();
                return null;
            }

            if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                AppendInt32Value(value);
                return null;
            }

            AppendNull();
            return long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) ? "out of range for int32" : "not an integer";
        }

        public override string? AppendInt32(int value) => Append(value);

        public override string? AppendInt64(long value) => value is >= int.MinValue and <= int.MaxValue ? Append((int)value) : Fail("out of range for int32");

        public override string? AppendValue(object? value) => value switch
        {
            int or short or byte or sbyte or ushort => Append(Convert.ToInt32(value, CultureInfo.InvariantCulture)),
            long l when l is >= int.MinValue and <= int.MaxValue => Append((int)l),
            long => Fail("out of range for int32"),
            _ => base.AppendValue(value),
        };

        private string? Append(int value)
        {
            AppendInt32Value(value);
            return null;
        }

        private string Fail(string why)
        {
            AppendNull();
            return why;
        }
    }

    private sealed class Int64Appender() : FixedWidthAppender(Int64Type.Default, 8)
    {

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                AppendNull();
                return null;
            }

            if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                AppendInt64Value(value);
                return null;
            }

            AppendNull();
            return "not an integer (int64)";
        }

        public override string? AppendInt32(int value) => AppendInt64(value);

        public override string? AppendInt64(long value)
        {
            AppendInt64Value(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            if (value is long or int or short or byte or sbyte or ushort or uint)
            {
                AppendInt64Value(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                return null;
            }

            return base.AppendValue(value);
        }
    }

    private sealed class Float64Appender() : FixedWidthAppender(DoubleType.Default, 8)
    {

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                AppendNull();
                return null;
            }

            if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                AppendInt64Value(BitConverter.DoubleToInt64Bits(value));
                return null;
            }

            AppendNull();
            return "not a number";
        }

        public override string? AppendDouble(double value)
        {
            AppendInt64Value(BitConverter.DoubleToInt64Bits(value));
            return null;
        }

        public override string? AppendValue(object? value)
        {
            if (value is double or float or int or long or decimal or short)
            {
                AppendInt64Value(BitConverter.DoubleToInt64Bits(Convert.ToDouble(value, CultureInfo.InvariantCulture)));
                return null;
            }

            return base.AppendValue(value);
        }
    }

    private sealed class BooleanAppender : ColumnAppender
    {
        private readonly ValidityBitmap _validity = new();
        private readonly ValidityBitmap _values = new();

        public override int Length => _validity.Length;

        public override int ExpectedRows
        {
            set => (_validity.ExpectedRows, _values.ExpectedRows) = (value, value);
        }

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            bool? value = text.Trim().ToLowerInvariant() switch
            {
                "true" or "1" or "yes" or "y" or "t" or "是" => true,
                "false" or "0" or "no" or "n" or "f" or "否" => false,
                _ => null,
            };
            if (value is { } b)
            {
                Append(b);
                return null;
            }

            AppendNull();
            return "not a boolean (true/false, 1/0, 是/否)";
        }

        public override string? AppendBoolean(bool value)
        {
            Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            switch (value)
            {
                case bool b:
                    Append(b);
                    return null;
                case long or int or short or byte:
                    var number = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                    if (number is 0 or 1)
                    {
                        Append(number == 1);
                        return null;
                    }

                    AppendNull();
                    return "not a boolean (only 0 and 1 are)";
                default:
                    return base.AppendValue(value);
            }
        }

        public override IArrowArray Build()
        {
            var length = _validity.Length;
            var (validity, nulls) = _validity.Take();
            return new BooleanArray(new ArrayData(BooleanType.Default, length, nulls, 0, [validity, _values.TakeBits()]));
        }

        private void Append(bool value)
        {
            _validity.Append(true);
            _values.Append(value);
        }

        private void AppendNull()
        {
            _validity.Append(false);
            _values.Append(false);
        }
    }

    private sealed class Date32Appender(string[] formats) : FixedWidthAppender(Date32Type.Default, 4)
    {
        private static readonly int UnixEpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                AppendNull();
                return null;
            }

            // yyyy-MM-dd is the first (or only) format: its exact form is read directly.
            if ((formats[0] == "yyyy-MM-dd" && TryParseIsoDate(text.Trim(), out var date))
                || DateOnly.TryParseExact(text.Trim(), formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out date))
            {
                Append(date);
                return null;
            }

            AppendNull();
            return formats.Length == 1 ? $"not a date in the format {formats[0]}" : "not a date (yyyy-MM-dd)";
        }

        public override string? AppendDate(DateOnly value)
        {
            Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            switch (value)
            {
                case DateOnly d:
                    Append(d);
                    return null;
                case DateTime { TimeOfDay.Ticks: 0 } dt:
                    Append(DateOnly.FromDateTime(dt));
                    return null;
                case DateTime:
                    AppendNull();
                    return "has a time of day; a date32 item holds dates only";
                default:
                    return base.AppendValue(value);
            }
        }

        /// <summary>Days since 1970-01-01: Arrow's date32.</summary>
        private void Append(DateOnly date) => AppendInt32Value(date.DayNumber - UnixEpochDay);
    }

    private sealed class TimestampAppender(TimeSpan assumedOffset, string? format) : FixedWidthAppender(ItemDataType.Timestamp.ToArrowType(), 8)
    {

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                AppendNull();
                return null;
            }

            var trimmed = text.Trim();
            if (format is not null)
            {
                // The one format the department named: nothing else is guessed (03/04 is one date, not two).
                if (HasOffsetSpecifier(format) && DateTimeOffset.TryParseExact(trimmed, format, CultureInfo.InvariantCulture, DateTimeStyles.None, out var exact))
                {
                    return Append(exact);
                }

                if (!HasOffsetSpecifier(format) && DateTime.TryParseExact(trimmed, format, CultureInfo.InvariantCulture, DateTimeStyles.None, out var exactLocal))
                {
                    return AppendLocal(exactLocal);
                }

                AppendNull();
                return $"not a timestamp in the format {format}";
            }

            // The usual local form (no offset: it is also what the first local formats read) directly.
            if (TryParseIsoLocalTimestamp(trimmed, out var iso))
            {
                return AppendLocal(iso);
            }

            // A written offset or 'Z' is honoured; a bare local time is taken at the assumed offset
            // (Beijing time unless configured), never at the machine's own time zone.
            if (HasOffset(trimmed) && DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.None, out var withOffset))
            {
                return Append(withOffset);
            }

            if (DateTime.TryParseExact(trimmed, LocalTimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
            {
                return AppendLocal(local);
            }

            AppendNull();
            return "not a timestamp (yyyy-MM-dd HH:mm:ss, or ISO 8601 with an offset)";
        }

        public override string? AppendDateTime(DateTime value) => value.Kind == DateTimeKind.Utc
            ? Append(new DateTimeOffset(value))
            : AppendLocal(value);

        public override string? AppendValue(object? value) => value switch
        {
            DateTimeOffset o => Append(o),
            DateTime d => AppendDateTime(d),
            _ => base.AppendValue(value),
        };

        /// <summary>Whether a custom format reads an offset (<c>z</c>, <c>zz</c>, <c>zzz</c> or <c>K</c>) outside quotes.</summary>
        private static bool HasOffsetSpecifier(string format)
        {
            var quoted = '\0';
            foreach (var c in format)
            {
                if (quoted != '\0')
                {
                    quoted = c == quoted ? '\0' : quoted;
                }
                else if (c is '\'' or '"')
                {
                    quoted = c;
                }
                else if (c is 'z' or 'K')
                {
                    return true;
                }
            }

            return false;
        }

        private static bool HasOffset(ReadOnlySpan<char> text)
        {
            if (text.EndsWith('Z') || text.EndsWith('z'))
            {
                return true;
            }

            // A sign after the time's start (past the date's own '-'); text of 8 characters or
            // fewer has no room for a date, a time and an offset.
            var time = text.Length > 8 ? text[8..].IndexOfAny('T', ' ') : -1;
            return time >= 0 && text[(8 + time)..].IndexOfAny('+', '-') > 0;
        }

        /// <summary>
        /// A local time at the assumed offset. Within the offset of the calendar's ends it has no
        /// UTC instant (<c>0001-01-01 00:00:00</c> at +08:00 is 8 hours before year 1 in UTC), which
        /// <see cref="DateTimeOffset"/> refuses by throwing: a row error instead, like any bad cell.
        /// </summary>
        private string? AppendLocal(DateTime local)
        {
            var utcTicks = local.Ticks - assumedOffset.Ticks;
            if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
            {
                AppendNull();
                return $"is outside the timestamps that can be stored (0001-01-01 to 9999-12-31 UTC) when read at offset {FormatOffset(assumedOffset)}";
            }

            return Append(new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), assumedOffset));
        }

        private static string FormatOffset(TimeSpan offset) =>
            (offset < TimeSpan.Zero ? "-" : "+") + offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);

        private string? Append(DateTimeOffset value)
        {
            // Whole microseconds: the item's unit on the wire (ItemDataType.TimestampUnit). Finer
            // digits would be lost silently, so refuse them.
            if (value.Ticks % TimeSpan.TicksPerMicrosecond != 0)
            {
                AppendNull();
                return "has sub-microsecond digits; timestamps are in microseconds";
            }

            // Microseconds since 1970-01-01 UTC (ItemDataType.TimestampUnit); exact: whole microseconds only, checked above.
            AppendInt64Value((value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond);
            return null;
        }
    }

    private sealed class DecimalAppender(int precision, int scale) : FixedWidthAppender(new Decimal128Type(precision, scale), 16)
    {
        /// <summary>10^n for n = 0..28: the first value with n + 1 integer digits.</summary>
        private static readonly decimal[] IntegerLimits = [.. Enumerable.Range(0, 29).Select(n => Enumerable.Repeat(10m, n).Aggregate(1m, (a, b) => a * b))];

        /// <summary>10^n for n = 0..19, the powers of ten a ulong holds.</summary>
        private static readonly ulong[] Powers = [.. Enumerable.Range(0, 20).Select(n => Enumerable.Repeat(10UL, n).Aggregate(1UL, (a, b) => a * b))];

        // Not Arrow's Decimal128Array.Builder: its Append(decimal) goes through a BigInteger (and
        // an int[]) per value, the larger part of a PostgreSQL push's conversion CPU. Each value is
        // its unscaled integer at the item's scale, 16 bytes of little-endian two's complement:
        // Arrow's decimal128 layout.
        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                AppendNull();
                return null;
            }

            if (decimal.TryParse(text.Trim(), NumberStyles.Number, CultureInfo.InvariantCulture, out var value))
            {
                return Append(value);
            }

            AppendNull();
            return $"not a decimal number for decimal128({precision},{scale})";
        }

        public override string? AppendDecimal(decimal value) => Append(value);

        /// <summary>
        /// The magnitude brought to the item's scale in a ulong, when it gets there exactly and
        /// within the precision: the same bytes <see cref="Append(decimal)"/> writes for that value.
        /// Anything else (places to drop, too large, no room to scale up) takes that path, with its
        /// checks and its message.
        /// </summary>
        public override string? AppendDecimal(ulong magnitude, int valueScale, bool negative)
        {
            var fits = true;
            var scaled = magnitude;
            if (valueScale > scale)
            {
                var divisor = valueScale - scale <= 19 ? Powers[valueScale - scale] : 0;
                fits = divisor != 0 && magnitude % divisor == 0;
                scaled = fits ? magnitude / divisor : 0;
            }
            else if (valueScale < scale)
            {
                var factor = scale - valueScale <= 19 ? Powers[scale - valueScale] : 0;
                fits = factor != 0 && magnitude <= ulong.MaxValue / factor;
                scaled = fits ? magnitude * factor : 0;
            }

            // |value| < 10^(precision − scale) is scaled < 10^precision at the item's scale; a ulong is below 10^20.
            if (!fits || (precision <= 19 && scaled >= Powers[precision]))
            {
                return Append(ToDecimal(magnitude, valueScale, negative));
            }

            var low = scaled;
            var high = 0UL;
            if (negative && scaled != 0)
            {
                low = ~low + 1;
                high = ulong.MaxValue;
            }

            var slot = ReserveValue();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(slot, low);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], high);
            CommitValue();
            return null;
        }

        public override string? AppendValue(object? value) => value switch
        {
            decimal d => Append(d),
            long or int or short => Append(Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            _ => base.AppendValue(value),
        };

        private string? Append(decimal value)
        {
            // Rounding would change the department's figure: too many decimals is an error, not a rounding.
            if (value.Scale > scale)
            {
                var rounded = decimal.Round(value, scale);
                if (rounded != value)
                {
                    AppendNull();
                    return $"has more than {scale} decimal place(s)";
                }

                // Only trailing zeros beyond the scale (999.990 for 2 places): the same number at the item's scale.
                value = rounded;
            }

            // |value| < 10^(precision − scale), without a string per value (a decimal has at most 29 integer digits).
            if (precision - scale <= 28 && decimal.Abs(value) >= IntegerLimits[precision - scale])
            {
                AppendNull();
                return $"too large for decimal128({precision},{scale})";
            }

            // The 96-bit integer of the decimal, brought from its own scale to the item's: × 10^(scale − value.Scale).
            // It fits 128 bits: the check above keeps it below 10^precision ≤ 10^38 < 2^127.
            Span<int> bits = stackalloc int[4];
            decimal.GetBits(value, bits);
            var low = ((ulong)(uint)bits[1] << 32) | (uint)bits[0];
            var high = (ulong)(uint)bits[2];
            for (var pad = scale - value.Scale; pad > 0; pad -= 19)
            {
                var factor = Powers[Math.Min(pad, 19)];
                var carry = Math.BigMul(low, factor, out low);
                high = (high * factor) + carry;
            }

            if (value < 0)
            {
                low = ~low + 1;
                high = ~high + (low == 0 ? 1UL : 0UL);
            }

            var slot = ReserveValue();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(slot, low);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], high);
            CommitValue();
            return null;
        }
    }

    private sealed class BinaryAppender() : VariableWidthAppender(BinaryType.Default)
    {

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                AppendNull();
                return null;
            }

            try
            {
                Append(Convert.FromBase64String(text.Trim()));
                return null;
            }
            catch (FormatException)
            {
                AppendNull();
                return "not base64";
            }
        }

        public override string? AppendBytes(ReadOnlySpan<byte> value)
        {
            Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            if (value is byte[] bytes)
            {
                Append(bytes);
                return null;
            }

            return base.AppendValue(value);
        }
    }

    /// <summary>
    /// An item type of fixed width: the values buffer and the validity bitmap written in place
    /// (<see cref="GrowingBuffer"/>), taken by the array without a copy.
    /// </summary>
    private abstract class FixedWidthAppender(IArrowType type, int width) : ColumnAppender
    {
        private readonly GrowingBuffer _values = new(width);
        private readonly ValidityBitmap _validity = new();

        public override int Length => _validity.Length;

        public override int ExpectedRows
        {
            set => (_values.ExpectedRows, _validity.ExpectedRows) = (value, value);
        }

        public override IArrowArray Build()
        {
            var length = _validity.Length;
            var (validity, nulls) = _validity.Take();
            return ArrowArrayFactory.BuildArray(new ArrayData(type, length, nulls, 0, [validity, _values.Take(length)]));
        }

        /// <summary>A null: its slot is zeroed (Arrow leaves it undefined; zero keeps the bytes sent deterministic).</summary>
        protected void AppendNull()
        {
            _values.Reserve(width).Clear();
            _values.Advance(width);
            _validity.Append(false);
        }

        protected void AppendInt32Value(int value)
        {
            _values.AppendInt32(value);
            _validity.Append(true);
        }

        protected void AppendInt64Value(long value)
        {
            _values.AppendInt64(value);
            _validity.Append(true);
        }

        /// <summary>The next value's slot, to be written and then committed with <see cref="CommitValue"/>.</summary>
        protected Span<byte> ReserveValue() => _values.Reserve(width);

        protected void CommitValue()
        {
            _values.Advance(width);
            _validity.Append(true);
        }
    }

    /// <summary>Text and binary: offsets, values and validity written in place (<see cref="GrowingBuffer"/>).</summary>
    private abstract class VariableWidthAppender(IArrowType type) : ColumnAppender
    {
        private readonly GrowingBuffer _offsets = new(4);
        private readonly GrowingBuffer _values = new(16);
        private readonly ValidityBitmap _validity = new();

        public override int Length => _validity.Length;

        public override int ExpectedRows
        {
            set => (_offsets.ExpectedRows, _values.ExpectedRows, _validity.ExpectedRows) = (value + 1, value, value);
        }

        public override IArrowArray Build()
        {
            var length = _validity.Length;
            if (length == 0)
            {
                _offsets.AppendInt32(0);
            }

            var (validity, nulls) = _validity.Take();
            return ArrowArrayFactory.BuildArray(new ArrayData(type, length, nulls, 0, [validity, _offsets.Take(length + 1), _values.Take(length)]));
        }

        protected void AppendNull()
        {
            Start();
            _offsets.AppendInt32(_values.Length);
            _validity.Append(false);
        }

        protected void Append(ReadOnlySpan<byte> value)
        {
            CommitValue(value.Length, ReserveValue(value.Length), value);
        }

        /// <summary>Room for a value of at most <paramref name="most"/> bytes, written and then committed with <see cref="CommitValue(int)"/>.</summary>
        protected Span<byte> ReserveValue(int most)
        {
            Start();
            if (most > int.MaxValue - _values.Length)
            {
                throw new OverflowException("A batch's values exceed Arrow's 2 GiB offsets.");
            }

            return _values.Reserve(most);
        }

        protected void CommitValue(int written)
        {
            _values.Advance(written);
            _offsets.AppendInt32(_values.Length);
            _validity.Append(true);
        }

        private void CommitValue(int length, Span<byte> space, ReadOnlySpan<byte> value)
        {
            value.CopyTo(space);
            CommitValue(length);
        }

        /// <summary>A batch's offsets start with 0.</summary>
        private void Start()
        {
            if (_validity.Length == 0 && _offsets.Length == 0)
            {
                _offsets.AppendInt32(0);
            }
        }
    }
}
