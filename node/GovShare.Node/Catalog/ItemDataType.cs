using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Catalog;

/// <summary>The closed set of item data types, each one Arrow type.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The names are the Arrow type names departments write in their catalogs.")]
public enum ItemTypeKind
{
    Utf8,
    Int32,
    Int64,
    Float64,
    Boolean,
    Date32,
    Timestamp,
    Decimal128,
    Binary,
}

/// <summary>
/// An item's data type, written as text in the catalog: <c>utf8</c>, <c>int32</c>,
/// <c>int64</c>, <c>float64</c>, <c>boolean</c>, <c>date32</c>, <c>timestamp</c>
/// (microseconds, UTC), <c>decimal128(p,s)</c> (1 ≤ p ≤ 38, 0 ≤ s ≤ p) or <c>binary</c>.
/// Parsing is case-insensitive and ignores spaces; <see cref="ToString"/> is the canonical form.
/// </summary>
public sealed record ItemDataType(ItemTypeKind Kind, int Precision = 0, int Scale = 0)
{
    public const int MaxDecimalPrecision = 38;

    public static readonly IReadOnlyList<string> Names =
        ["utf8", "int32", "int64", "float64", "boolean", "date32", "timestamp", "decimal128(p,s)", "binary"];

    public static bool TryParse(string? text, [NotNullWhen(true)] out ItemDataType? type)
    {
        type = null;
        if (text is null || text.Length > 32)
        {
            return false;
        }

        var t = text.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        type = t switch
        {
            "utf8" => new ItemDataType(ItemTypeKind.Utf8),
            "int32" => new ItemDataType(ItemTypeKind.Int32),
            "int64" => new ItemDataType(ItemTypeKind.Int64),
            "float64" => new ItemDataType(ItemTypeKind.Float64),
            "boolean" => new ItemDataType(ItemTypeKind.Boolean),
            "date32" => new ItemDataType(ItemTypeKind.Date32),
            "timestamp" => new ItemDataType(ItemTypeKind.Timestamp),
            "binary" => new ItemDataType(ItemTypeKind.Binary),
            _ => ParseDecimal(t),
        };
        return type is not null;
    }

    /// <exception cref="FormatException">Not one of <see cref="Names"/>.</exception>
    public static ItemDataType Parse(string text) =>
        TryParse(text, out var type) ? type : throw new FormatException($"'{text}' is not an item data type; use one of {string.Join(", ", Names)}");

    private static ItemDataType? ParseDecimal(string t)
    {
        if (!t.StartsWith("decimal128(", StringComparison.Ordinal) || !t.EndsWith(')'))
        {
            return null;
        }

        var parts = t["decimal128(".Length..^1].Split(',');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var p)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s)
            || p is < 1 or > MaxDecimalPrecision || s > p)
        {
            return null;
        }

        return new ItemDataType(ItemTypeKind.Decimal128, p, s);
    }

    /// <summary>The Arrow type a column of this item has.</summary>
    public IArrowType ToArrowType() => Kind switch
    {
        ItemTypeKind.Utf8 => StringType.Default,
        ItemTypeKind.Int32 => Int32Type.Default,
        ItemTypeKind.Int64 => Int64Type.Default,
        ItemTypeKind.Float64 => DoubleType.Default,
        ItemTypeKind.Boolean => BooleanType.Default,
        ItemTypeKind.Date32 => Date32Type.Default,
        ItemTypeKind.Timestamp => new TimestampType(TimeUnit.Microsecond, "UTC"),
        ItemTypeKind.Decimal128 => new Decimal128Type(Precision, Scale),
        ItemTypeKind.Binary => BinaryType.Default,
        _ => throw new InvalidOperationException($"unknown kind {Kind}"),
    };

    /// <summary>True when an Arrow field type carries this item (timestamps: any zone-aware microsecond or finer unit is not accepted; only the exact type).</summary>
    public bool Matches(IArrowType arrowType)
    {
        ArgumentNullException.ThrowIfNull(arrowType);
        return (Kind, arrowType) switch
        {
            (ItemTypeKind.Decimal128, Decimal128Type d) => d.Precision == Precision && d.Scale == Scale,
            (ItemTypeKind.Timestamp, TimestampType ts) => ts.Unit == TimeUnit.Microsecond && ts.Timezone == "UTC",
            _ => arrowType.TypeId == ToArrowType().TypeId,
        };
    }

    public override string ToString() => Kind == ItemTypeKind.Decimal128
        ? string.Create(CultureInfo.InvariantCulture, $"decimal128({Precision},{Scale})")
        : Kind.ToString().ToLowerInvariant();
}
