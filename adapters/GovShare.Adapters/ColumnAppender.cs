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

    public virtual string? AppendDate(DateOnly value) => AppendValue(value);

    public virtual string? AppendDateTime(DateTime value) => AppendValue(value);

    /// <summary>Text as (valid) UTF-8 bytes.</summary>
    public virtual string? AppendUtf8(ReadOnlySpan<byte> value) => AppendValue(System.Text.Encoding.UTF8.GetString(value));

    public virtual string? AppendBytes(ReadOnlySpan<byte> value) => AppendValue(value.ToArray());

    public abstract IArrowArray Build();

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

    private sealed class Utf8Appender : ColumnAppender
    {
        private StringArray.Builder _builder = new();
        private byte[] _utf8 = new byte[1024];

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (text is null)
            {
                _builder.AppendNull();
            }
            else
            {
                _builder.Append(text);
            }

            return null;
        }

        public override string? AppendUtf8(ReadOnlySpan<byte> value)
        {
            _builder.Append(value);
            return null;
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            // As Append(string) encodes it (UTF-8, a lone surrogate replaced), without the string.
            var most = System.Text.Encoding.UTF8.GetMaxByteCount(text.Length);
            if (most > _utf8.Length)
            {
                _utf8 = new byte[Math.Max(most, _utf8.Length * 2)];
            }

            _builder.Append(_utf8.AsSpan(0, System.Text.Encoding.UTF8.GetBytes(text, _utf8)));
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

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }
    }

    private sealed class Int32Appender : ColumnAppender
    {
        private Int32Array.Builder _builder = new();

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                _builder.AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                _builder.AppendNull();
                return null;
            }

            if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                _builder.Append(value);
                return null;
            }

            _builder.AppendNull();
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

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }

        private string? Append(int value)
        {
            _builder.Append(value);
            return null;
        }

        private string Fail(string why)
        {
            _builder.AppendNull();
            return why;
        }
    }

    private sealed class Int64Appender : ColumnAppender
    {
        private Int64Array.Builder _builder = new();

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                _builder.AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                _builder.AppendNull();
                return null;
            }

            if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                _builder.Append(value);
                return null;
            }

            _builder.AppendNull();
            return "not an integer (int64)";
        }

        public override string? AppendInt32(int value) => AppendInt64(value);

        public override string? AppendInt64(long value)
        {
            _builder.Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            if (value is long or int or short or byte or sbyte or ushort or uint)
            {
                _builder.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                return null;
            }

            return base.AppendValue(value);
        }

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }
    }

    private sealed class Float64Appender : ColumnAppender
    {
        private DoubleArray.Builder _builder = new();

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                _builder.AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                _builder.AppendNull();
                return null;
            }

            if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                _builder.Append(value);
                return null;
            }

            _builder.AppendNull();
            return "not a number";
        }

        public override string? AppendDouble(double value)
        {
            _builder.Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            if (value is double or float or int or long or decimal or short)
            {
                _builder.Append(Convert.ToDouble(value, CultureInfo.InvariantCulture));
                return null;
            }

            return base.AppendValue(value);
        }

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }
    }

    private sealed class BooleanAppender : ColumnAppender
    {
        private BooleanArray.Builder _builder = new();

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                _builder.AppendNull();
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
                _builder.Append(b);
                return null;
            }

            _builder.AppendNull();
            return "not a boolean (true/false, 1/0, 是/否)";
        }

        public override string? AppendBoolean(bool value)
        {
            _builder.Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            switch (value)
            {
                case bool b:
                    _builder.Append(b);
                    return null;
                case long or int or short or byte:
                    var number = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                    if (number is 0 or 1)
                    {
                        _builder.Append(number == 1);
                        return null;
                    }

                    _builder.AppendNull();
                    return "not a boolean (only 0 and 1 are)";
                default:
                    return base.AppendValue(value);
            }
        }

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }
    }

    private sealed class Date32Appender(string[] formats) : ColumnAppender
    {
        private Date32Array.Builder _builder = new();

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                _builder.AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                _builder.AppendNull();
                return null;
            }

            // yyyy-MM-dd is the first (or only) format: its exact form is read directly.
            if ((formats[0] == "yyyy-MM-dd" && TryParseIsoDate(text.Trim(), out var date))
                || DateOnly.TryParseExact(text.Trim(), formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out date))
            {
                _builder.Append(date);
                return null;
            }

            _builder.AppendNull();
            return formats.Length == 1 ? $"not a date in the format {formats[0]}" : "not a date (yyyy-MM-dd)";
        }

        public override string? AppendDate(DateOnly value)
        {
            _builder.Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            switch (value)
            {
                case DateOnly d:
                    _builder.Append(d);
                    return null;
                case DateTime { TimeOfDay.Ticks: 0 } dt:
                    _builder.Append(DateOnly.FromDateTime(dt));
                    return null;
                case DateTime:
                    _builder.AppendNull();
                    return "has a time of day; a date32 item holds dates only";
                default:
                    return base.AppendValue(value);
            }
        }

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }
    }

    private sealed class TimestampAppender(TimeSpan assumedOffset, string? format) : ColumnAppender
    {
        private static readonly TimestampType Type = (TimestampType)ItemDataType.Timestamp.ToArrowType();
        private TimestampArray.Builder _builder = new(Type);

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                _builder.AppendNull();
                return null;
            }

            return AppendChars(text);
        }

        public override string? AppendChars(ReadOnlySpan<char> text)
        {
            if (text.IsWhiteSpace())
            {
                _builder.AppendNull();
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

                _builder.AppendNull();
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

            _builder.AppendNull();
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

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new(Type);
            return array;
        }

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
                _builder.AppendNull();
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
                _builder.AppendNull();
                return "has sub-microsecond digits; timestamps are in microseconds";
            }

            _builder.Append(value.ToUniversalTime());
            return null;
        }
    }

    private sealed class DecimalAppender(int precision, int scale) : ColumnAppender
    {
        /// <summary>10^n for n = 0..28: the first value with n + 1 integer digits.</summary>
        private static readonly decimal[] IntegerLimits = [.. Enumerable.Range(0, 29).Select(n => Enumerable.Repeat(10m, n).Aggregate(1m, (a, b) => a * b))];

        /// <summary>10^n for n = 0..19, the powers of ten a ulong holds.</summary>
        private static readonly ulong[] Powers = [.. Enumerable.Range(0, 20).Select(n => Enumerable.Repeat(10UL, n).Aggregate(1UL, (a, b) => a * b))];

        private readonly Decimal128Type _type = new(precision, scale);

        // The array is written here, not with Arrow's Decimal128Array.Builder: its Append(decimal)
        // goes through a BigInteger (and an int[]) per value, the larger part of a PostgreSQL
        // push's conversion CPU. Each value is its unscaled integer at the item's scale, 16 bytes
        // of little-endian two's complement: Arrow's decimal128 layout.
        private byte[] _values = new byte[16 * 1024];
        private ArrowBuffer.BitmapBuilder _validity = new();
        private int _length;
        private int _nulls;

        public override int Length => _length;

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

        public override string? AppendValue(object? value) => value switch
        {
            decimal d => Append(d),
            long or int or short => Append(Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            _ => base.AppendValue(value),
        };

        public override IArrowArray Build()
        {
            var values = new ArrowBuffer(_values.AsMemory(0, _length * 16));
            var validity = _nulls == 0 ? ArrowBuffer.Empty : _validity.Build();
            var array = new Decimal128Array(new ArrayData(_type, _length, _nulls, 0, [validity, values]));
            _values = new byte[Math.Max(16 * 1024, _length * 16)];
            _validity = new();
            _length = 0;
            _nulls = 0;
            return array;
        }

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

            Reserve();
            var slot = _values.AsSpan(_length * 16, 16);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(slot, low);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], high);
            _validity.Append(true);
            _length++;
            return null;
        }

        private void AppendNull()
        {
            Reserve();
            _values.AsSpan(_length * 16, 16).Clear();
            _validity.Append(false);
            _length++;
            _nulls++;
        }

        private void Reserve()
        {
            if ((_length + 1) * 16 > _values.Length)
            {
                System.Array.Resize(ref _values, _values.Length * 2);
            }
        }
    }

    private sealed class BinaryAppender : ColumnAppender
    {
        private BinaryArray.Builder _builder = new();

        public override int Length => _builder.Length;

        public override string? AppendText(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                _builder.AppendNull();
                return null;
            }

            try
            {
                _builder.Append(Convert.FromBase64String(text.Trim()).AsSpan());
                return null;
            }
            catch (FormatException)
            {
                _builder.AppendNull();
                return "not base64";
            }
        }

        public override string? AppendBytes(ReadOnlySpan<byte> value)
        {
            _builder.Append(value);
            return null;
        }

        public override string? AppendValue(object? value)
        {
            if (value is byte[] bytes)
            {
                _builder.Append(bytes.AsSpan());
                return null;
            }

            return base.AppendValue(value);
        }

        public override IArrowArray Build()
        {
            var array = _builder.Build();
            _builder = new();
            return array;
        }
    }
}
