namespace GovShare.Contract;

/// <summary>The closed set of item data types, each one Arrow type (see <see cref="ItemDataType"/>).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The names are the Arrow type names departments write in their catalogs.")]
public enum ItemTypeKind
{
    /// <summary>UTF-8 text; the catalog's item length limits its characters.</summary>
    Utf8,

    /// <summary>32-bit signed integer.</summary>
    Int32,

    /// <summary>64-bit signed integer.</summary>
    Int64,

    /// <summary>IEEE 754 double.</summary>
    Float64,

    /// <summary>True or false.</summary>
    Boolean,

    /// <summary>A calendar date: days since 1970-01-01.</summary>
    Date32,

    /// <summary>An instant: <b>microseconds</b> since 1970-01-01T00:00:00Z, zone "UTC".</summary>
    Timestamp,

    /// <summary>A decimal of the catalog's precision and scale.</summary>
    Decimal128,

    /// <summary>Bytes.</summary>
    Binary,
}
