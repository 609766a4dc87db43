using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;

// CA1720: the members are named after Arrow's types (int32, float64, decimal128), as mapping files write them.
#pragma warning disable CA1720

namespace GovShare.Adapters;

/// <summary>The Arrow types an information item may have on the wire.</summary>
public enum ItemTypeKind
{
    Utf8,
    Int32,
    Int64,
    Float64,
    Boolean,
    Date32,

    /// <summary>Milliseconds since the epoch, UTC.</summary>
    Timestamp,
    Decimal128,
    Binary,
}

/// <summary>
/// An information item's data type as written in a mapping: <c>utf8</c>, <c>int32</c>, <c>int64</c>,
/// <c>float64</c>, <c>boolean</c>, <c>date32</c>, <c>timestamp</c> (ms, UTC), <c>decimal128(p,s)</c>, <c>binary</c>.
/// </summary>
public sealed record ItemType(ItemTypeKind Kind, int Precision = 0, int Scale = 0)
{
    public static readonly ItemType Utf8 = new(ItemTypeKind.Utf8);
    public static readonly ItemType Int32 = new(ItemTypeKind.Int32);
    public static readonly ItemType Int64 = new(ItemTypeKind.Int64);
    public static readonly ItemType Float64 = new(ItemTypeKind.Float64);
    public static readonly ItemType Boolean = new(ItemTypeKind.Boolean);
    public static readonly ItemType Date32 = new(ItemTypeKind.Date32);
    public static readonly ItemType Timestamp = new(ItemTypeKind.Timestamp);
    public static readonly ItemType Binary = new(ItemTypeKind.Binary);

    private static readonly TimestampType TimestampArrowType = new(TimeUnit.Millisecond, "UTC");

    public static ItemType Decimal(int precision, int scale) => new(ItemTypeKind.Decimal128, precision, scale);

    /// <summary>Parses a type name; returns null and an explanation when it is not one.</summary>
    public static ItemType? TryParse(string? text, out string? error)
    {
        error = null;
        var name = (text ?? "").Trim().ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal);
        switch (name)
        {
            case "utf8" or "string" or "text": return Utf8;
            case "int32": return Int32;
            case "int64": return Int64;
            case "float64" or "double": return Float64;
            case "boolean" or "bool": return Boolean;
            case "date32" or "date": return Date32;
            case "timestamp" or "timestamp(ms,utc)": return Timestamp;
            case "binary": return Binary;
        }

        if (name.StartsWith("decimal128(", StringComparison.Ordinal) && name.EndsWith(')'))
        {
            var parts = name["decimal128(".Length..^1].Split(',');
            if (parts.Length == 2
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var precision)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var scale)
                && precision is >= 1 and <= 38 && scale >= 0 && scale <= precision)
            {
                return Decimal(precision, scale);
            }

            error = $"'{text}': decimal128 needs a precision 1..38 and a scale 0..precision, e.g. decimal128(18,2)";
            return null;
        }

        error = $"'{text}' is not an item type (utf8, int32, int64, float64, boolean, date32, timestamp, decimal128(p,s), binary)";
        return null;
    }

    public static ItemType Parse(string text) => TryParse(text, out var error) ?? throw new FormatException(error);

    /// <summary>The type of an Arrow field, or null when items cannot have it.</summary>
    public static ItemType? FromArrow(IArrowType type) => type switch
    {
        StringType => Utf8,
        Int32Type => Int32,
        Int64Type => Int64,
        DoubleType => Float64,
        BooleanType => Boolean,
        Date32Type => Date32,
        TimestampType { Unit: TimeUnit.Millisecond } t when t.Timezone is "UTC" or "+00:00" => Timestamp,
        Decimal128Type d => Decimal(d.Precision, d.Scale),
        BinaryType => Binary,
        _ => null,
    };

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
        _ => throw new InvalidOperationException($"Unknown item type {Kind}."),
    };

    public Field ToField(string item) => new(item, ToArrowType(), nullable: true);

    public override string ToString() => Kind switch
    {
        ItemTypeKind.Decimal128 => $"decimal128({Precision},{Scale})",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
