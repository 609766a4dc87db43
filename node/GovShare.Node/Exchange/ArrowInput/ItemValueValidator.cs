using System.Buffers.Binary;
using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Node.Catalog;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>One value rule broken by a pushed batch: the item, where it first happens, how often in that batch.</summary>
/// <param name="Item">The item's id (or the column's name when the schema carries no id).</param>
/// <param name="Batch">The record batch, counted from 0 over the whole push.</param>
/// <param name="Row">The first offending row inside that batch, counted from 0.</param>
/// <param name="Rule">The stable rule code, e.g. <c>length</c> (see <see cref="ItemValueValidator"/>).</param>
/// <param name="Count">Offending rows of this item and rule in that batch.</param>
/// <param name="Message">A sentence a person can act on; never the value itself.</param>
public sealed record ValueViolation(string Item, int Batch, int Row, string Rule, long Count, string Message);

/// <summary>A pushed batch holds values its items do not allow; <see cref="Violations"/> lists them, capped.</summary>
public sealed class ArrowValueException : Exception
{
    public ArrowValueException(IReadOnlyList<ValueViolation> violations, int more)
        : base(string.Join(" ", violations.Select(v => v.Message)) + (more > 0 ? FormattableString.Invariant($" ({more} more not listed.)") : ""))
    {
        Violations = violations;
        More = more;
    }

    public ArrowValueException()
        : this([], 0)
    {
    }

    public ArrowValueException(string message)
        : base(message)
    {
        Violations = [];
    }

    public ArrowValueException(string message, Exception inner)
        : base(message, inner)
    {
        Violations = [];
    }

    /// <summary>The violations, at most <see cref="ItemValueValidator.MaxReported"/>.</summary>
    public IReadOnlyList<ValueViolation> Violations { get; }

    /// <summary>Violations found but left out of <see cref="Violations"/>.</summary>
    public int More { get; }
}

/// <summary>
/// Checks the values of a framing-validated batch against what its items allow, before the batch
/// is stored: whatever a push stores, every pull must be able to render (JSON, CSV, masking).
/// The rules come from the stored schema itself (type, nullability, and the item length in the
/// field metadata <see cref="CatalogEntry.ItemLengthMetadataKey"/>), so every writer of a version
/// enforces the same rules whatever its push mode.
/// </summary>
/// <remarks>
/// Rule codes (stable; clients switch on them):
/// <list type="bullet">
/// <item><c>required</c>: a null in a non-nullable item.</item>
/// <item><c>length</c>: a utf8 value longer than the item's length in <b>characters</b> (Unicode
/// scalar values, so 张 and 𠮷 are one each), or a binary value longer than it in bytes.</item>
/// <item><c>date-range</c>: a date32 outside 0001-01-01..9999-12-31.</item>
/// <item><c>timestamp-range</c>: a timestamp outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z.</item>
/// <item><c>decimal-precision</c>: a decimal128(p,s) whose unscaled value has more than p digits.</item>
/// </list>
/// float64 NaN, infinities and negative zero are values, not violations; int32, int64 and
/// boolean have no value rule. The catalog has no code tables, so no enumeration rule exists.
/// </remarks>
public sealed class ItemValueValidator
{
    /// <summary>Most violations one refusal lists.</summary>
    public const int MaxReported = 20;

    // Days from 1970-01-01 to 0001-01-01 and to 9999-12-31: the range DateOnly renders.
    private static readonly int MinDay = DateOnly.MinValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
    private static readonly int MaxDay = DateOnly.MaxValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    // Microseconds from the epoch to DateTimeOffset.MinValue and MaxValue: the range GetTimestamp renders.
    private static readonly long MinMicros = (DateTimeOffset.MinValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    private static readonly long MaxMicros = (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private readonly Column[] _columns;

    private ItemValueValidator(Column[] columns)
    {
        _columns = columns;
    }

    /// <summary>The rules of a stored schema: one per field.</summary>
    public static ItemValueValidator ForSchema(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var columns = new Column[schema.FieldsList.Count];
        for (var i = 0; i < columns.Length; i++)
        {
            var field = schema.FieldsList[i];
            var item = field.Metadata is { } m && m.TryGetValue(CatalogEntry.ItemIdMetadataKey, out var id) ? id : field.Name;
            int? length = field.Metadata is { } meta && meta.TryGetValue(CatalogEntry.ItemLengthMetadataKey, out var text)
                && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
            Int128 decimalBound = field.DataType is Decimal128Type d ? Pow10(d.Precision) : Int128.Zero;
            columns[i] = new Column(item, field.Name, field.IsNullable, length, decimalBound);
        }

        return new ItemValueValidator(columns);
    }

    /// <summary>Every violation of one batch (uncapped; the caller caps), in column order.</summary>
    public List<ValueViolation> Check(RecordBatch batch, int batchIndex)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var found = new List<ValueViolation>();
        for (var c = 0; c < _columns.Length && c < batch.ColumnCount; c++)
        {
            var column = _columns[c];
            var data = batch.Column(c).Data;
            if (!column.Nullable && data.NullCount > 0)
            {
                var row = FirstNull(data);
                found.Add(new(column.Item, batchIndex, row, "required", data.NullCount, Where(column, batchIndex, row, data.NullCount, "may not be null")));
            }

            var (first, count, rule, what) = data.DataType switch
            {
                StringType when column.Length is { } max => Scan(data, (bytes, _) => CharsOver(bytes, max), "length", $"longer than its length of {max} characters"),
                BinaryType when column.Length is { } max => Scan(data, (bytes, _) => bytes.Length > max, "length", $"longer than its length of {max} bytes"),
                Date32Type => ScanFixed(data, 4, v => BinaryPrimitives.ReadInt32LittleEndian(v) is var day && (day < MinDay || day > MaxDay), "date-range", "a date outside the years 1 to 9999"),
                TimestampType t => ScanFixed(data, 8, v => OutOfRange(BinaryPrimitives.ReadInt64LittleEndian(v), t.Unit), "timestamp-range", "an instant outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"),
                Decimal128Type d => ScanFixed(data, 16, v => BinaryPrimitives.ReadInt128LittleEndian(v) is var x && (x >= column.DecimalBound || x <= -column.DecimalBound), "decimal-precision", $"more digits than its precision of {d.Precision} (decimal128({d.Precision},{d.Scale}))"),
                _ => (-1, 0L, "", ""),
            };
            if (count > 0)
            {
                found.Add(new(column.Item, batchIndex, first, rule, count, Where(column, batchIndex, first, count, what)));
            }
        }

        return found;
    }

    /// <summary>Throws when the batch breaks a rule.</summary>
    /// <exception cref="ArrowValueException">The batch breaks at least one rule; the violations are capped at <see cref="MaxReported"/>.</exception>
    public void Validate(RecordBatch batch, int batchIndex)
    {
        var found = Check(batch, batchIndex);
        if (found.Count > 0)
        {
            throw new ArrowValueException(found.Take(MaxReported).ToList(), Math.Max(0, found.Count - MaxReported));
        }
    }

    private static string Where(Column column, int batch, int row, long count, string what) =>
        string.Create(CultureInfo.InvariantCulture, $"Item '{column.Name}' ({column.Item}), batch {batch}, row {row}: {what}{(count > 1 ? $" ({count} rows of this batch)" : "")}.");

    private static bool OutOfRange(long value, TimeUnit unit) => unit switch
    {
        TimeUnit.Microsecond => value < MinMicros || value > MaxMicros,
        TimeUnit.Millisecond => value < MinMicros / 1000 || value > MaxMicros / 1000,
        TimeUnit.Second => value < MinMicros / 1_000_000 || value > MaxMicros / 1_000_000,
        // Every int64 of nanoseconds lies within 1677..2262.
        _ => false,
    };

    // UTF-8 was validated already, so characters are the bytes that do not continue a sequence.
    // At most one character per byte: a value no longer in bytes than the limit needs no count.
    private static bool CharsOver(ReadOnlySpan<byte> bytes, int max)
    {
        if (bytes.Length <= max)
        {
            return false;
        }

        var chars = 0;
        foreach (var b in bytes)
        {
            if ((b & 0xC0) != 0x80 && ++chars > max)
            {
                return true;
            }
        }

        return false;
    }

    private static Int128 Pow10(int digits)
    {
        var x = Int128.One;
        for (var i = 0; i < digits; i++)
        {
            x *= 10;
        }

        return x;
    }

    private static int FirstNull(ArrayData data)
    {
        var bitmap = data.Buffers[0].Span;
        for (var i = 0; i < data.Length; i++)
        {
            if (!ArrowBatchValidator.IsValid(bitmap, data.Offset + i))
            {
                return i;
            }
        }

        return -1;
    }

    private delegate bool VariablePredicate(ReadOnlySpan<byte> value, int row);

    private delegate bool FixedPredicate(ReadOnlySpan<byte> value);

    private static (int First, long Count, string Rule, string What) Scan(ArrayData data, VariablePredicate bad, string rule, string what)
    {
        var bitmap = data.Buffers[0].Span;
        var offsets = data.Buffers[1].Span;
        var bytes = data.Buffers[2].Span;
        var first = -1;
        long count = 0;
        for (var i = 0; i < data.Length; i++)
        {
            if (!ArrowBatchValidator.IsValid(bitmap, data.Offset + i))
            {
                continue;
            }

            var start = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice((data.Offset + i) * 4, 4));
            var end = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice((data.Offset + i + 1) * 4, 4));
            if (bad(bytes[start..end], i))
            {
                first = first < 0 ? i : first;
                count++;
            }
        }

        return (first, count, rule, what);
    }

    private static (int First, long Count, string Rule, string What) ScanFixed(ArrayData data, int width, FixedPredicate bad, string rule, string what)
    {
        var bitmap = data.Buffers[0].Span;
        var values = data.Buffers[1].Span;
        var first = -1;
        long count = 0;
        for (var i = 0; i < data.Length; i++)
        {
            // A null slot's bytes are not a value: whatever they hold is never rendered.
            if (ArrowBatchValidator.IsValid(bitmap, data.Offset + i) && bad(values.Slice((data.Offset + i) * width, width)))
            {
                first = first < 0 ? i : first;
                count++;
            }
        }

        return (first, count, rule, what);
    }

    private sealed record Column(string Item, string Name, bool Nullable, int? Length, Int128 DecimalBound);
}
