using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Contract;

/// <summary>
/// An item's data type, written as text in the catalog and in a department's mapping:
/// <c>utf8</c>, <c>int32</c>, <c>int64</c>, <c>float64</c>, <c>boolean</c>, <c>date32</c>,
/// <c>timestamp</c> (<b>microseconds</b> since the epoch, zone UTC), <c>decimal128(p,s)</c>
/// (1 ≤ p ≤ 38, 0 ≤ s ≤ p) or <c>binary</c>. This is the one definition of the wire types: the
/// node checks pushes against <see cref="Matches"/> and the department tools build columns with
/// <see cref="ToArrowType"/>, so the two cannot disagree on a unit.
/// Parsing is case-insensitive and ignores spaces; <see cref="ToString"/> is the canonical form.
/// </summary>
[SuppressMessage("Naming", "CA1720", Justification = "The names are the Arrow type names departments write in their catalogs.")]
public sealed record ItemDataType(ItemTypeKind Kind, int Precision = 0, int Scale = 0)
{
    public const int MaxDecimalPrecision = 38;

    /// <summary>The unit of a <c>timestamp</c> item on the wire.</summary>
    public const TimeUnit TimestampUnit = TimeUnit.Microsecond;

    /// <summary>The zone of a <c>timestamp</c> item on the wire.</summary>
    public const string TimestampZone = "UTC";

    public static readonly IReadOnlyList<string> Names =
        ["utf8", "int32", "int64", "float64", "boolean", "date32", "timestamp", "decimal128(p,s)", "binary"];

    public static readonly ItemDataType Utf8 = new(ItemTypeKind.Utf8);
    public static readonly ItemDataType Int32 = new(ItemTypeKind.Int32);
    public static readonly ItemDataType Int64 = new(ItemTypeKind.Int64);
    public static readonly ItemDataType Float64 = new(ItemTypeKind.Float64);
    public static readonly ItemDataType Boolean = new(ItemTypeKind.Boolean);
    public static readonly ItemDataType Date32 = new(ItemTypeKind.Date32);
    public static readonly ItemDataType Timestamp = new(ItemTypeKind.Timestamp);
    public static readonly ItemDataType Binary = new(ItemTypeKind.Binary);

    private static readonly TimestampType TimestampArrowType = new(TimestampUnit, TimestampZone);

    public static ItemDataType Decimal(int precision, int scale) => new(ItemTypeKind.Decimal128, precision, scale);

    public static bool TryParse(string? text, [NotNullWhen(true)] out ItemDataType? type) => (type = Parse(text, out _)) is not null;

    /// <summary>
    /// Parses a type name; returns null and an explanation a person can act on when it is not one.
    /// The catalog and a department's mapping use this one grammar, so a mapping cannot name a
    /// type the catalog would refuse.
    /// </summary>
    public static ItemDataType? Parse(string? text, out string? error)
    {
        error = null;
        if (text is null || text.Length > 32)
        {
            error = $"'{text}' is not an item type ({string.Join(", ", Names)})";
            return null;
        }

        var t = text.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        switch (t)
        {
            case "utf8": return Utf8;
            case "int32": return Int32;
            case "int64": return Int64;
            case "float64": return Float64;
            case "boolean": return Boolean;
            case "date32": return Date32;
            case "timestamp": return Timestamp;
            case "binary": return Binary;
        }

        if (t.StartsWith("decimal128(", StringComparison.Ordinal) && t.EndsWith(')'))
        {
            var parts = t["decimal128(".Length..^1].Split(',');
            if (parts.Length == 2
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var p)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s)
                && p is >= 1 and <= MaxDecimalPrecision && s <= p)
            {
                return Decimal(p, s);
            }

            error = $"'{text}': decimal128 needs a precision 1..{MaxDecimalPrecision} and a scale 0..precision, e.g. decimal128(18,2)";
            return null;
        }

        error = $"'{text}' is not an item type ({string.Join(", ", Names)})";
        return null;
    }

    /// <exception cref="FormatException">Not one of <see cref="Names"/>.</exception>
    public static ItemDataType Parse(string text) =>
        Parse(text, out var error) ?? throw new FormatException(error);

    /// <summary>The item type an Arrow field carries, or null when no item can have that Arrow type.</summary>
    public static ItemDataType? FromArrow(IArrowType type) => type switch
    {
        StringType => Utf8,
        Int32Type => Int32,
        Int64Type => Int64,
        DoubleType => Float64,
        BooleanType => Boolean,
        Date32Type => Date32,
        TimestampType t when Timestamp.Matches(t) => Timestamp,
        Decimal128Type d => Decimal(d.Precision, d.Scale),
        BinaryType => Binary,
        _ => null,
    };

    /// <summary>The Arrow type a column of this item has.</summary>
    public IArrowType ToArrowType() => Kind switch
    {
        ItemTypeKind.Utf8 => StringType.Default,
        ItemTypeKind.Int32 => Int32Type.Default,
        ItemTypeKind.Int64 => Int64Type.Default,
        ItemTypeKind.Float64 => DoubleType.Default,
        ItemTypeKind.Boolean => BooleanType.Default,
        ItemTypeKind.Date32 => Date32Type.Default,
        ItemTypeKind.Timestamp => TimestampArrowType,
        ItemTypeKind.Decimal128 => new Decimal128Type(Precision, Scale),
        ItemTypeKind.Binary => BinaryType.Default,
        _ => throw new InvalidOperationException($"unknown kind {Kind}"),
    };

    /// <summary>A nullable Arrow field of this type named <paramref name="name"/>.</summary>
    public Field ToField(string name) => new(name, ToArrowType(), nullable: true);

    /// <summary>True when an Arrow field type carries this item: exactly this type (a timestamp only in microseconds, UTC).</summary>
    public bool Matches(IArrowType arrowType)
    {
        ArgumentNullException.ThrowIfNull(arrowType);
        return (Kind, arrowType) switch
        {
            (ItemTypeKind.Decimal128, Decimal128Type d) => d.Precision == Precision && d.Scale == Scale,
            (ItemTypeKind.Timestamp, TimestampType ts) => ts.Unit == TimestampUnit && ts.Timezone == TimestampZone,
            _ => arrowType.TypeId == ToArrowType().TypeId,
        };
    }

    public override string ToString() => Kind == ItemTypeKind.Decimal128
        ? string.Create(CultureInfo.InvariantCulture, $"decimal128({Precision},{Scale})")
        : Kind.ToString().ToLowerInvariant();
}
