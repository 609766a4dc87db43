using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// A short stable hash of a schema's columns (name, type with its parameters, nullability, in
/// order), ignoring metadata. Two pushes can be appended to one another exactly when their
/// fingerprints are equal.
/// </summary>
public static class SchemaFingerprint
{
    /// <summary>32 lowercase hex digits (the first 128 bits of SHA-256 over <see cref="CanonicalText"/>).</summary>
    public static string Of(Schema schema)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(schema)));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    /// <summary>One line per column: <c>name\ttype\tnullable</c>.</summary>
    public static string CanonicalText(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var text = new StringBuilder();
        foreach (var field in schema.FieldsList)
        {
            text.Append(field.Name).Append('\t').Append(TypeText(field.DataType)).Append('\t').Append(field.IsNullable ? "null" : "not null").Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The canonical name of an item type, e.g. <c>timestamp[ms,Asia/Shanghai]</c>, <c>decimal128(18,2)</c>.</summary>
    public static string TypeText(IArrowType type) => type switch
    {
        StringType => "utf8",
        BinaryType => "binary",
        Int32Type => "int32",
        Int64Type => "int64",
        DoubleType => "float64",
        BooleanType => "boolean",
        Date32Type => "date32",
        TimestampType t => $"timestamp[{(t.Unit == TimeUnit.Millisecond ? "ms" : t.Unit == TimeUnit.Microsecond ? "us" : t.Unit.ToString())},{t.Timezone}]",
        Decimal128Type d => string.Create(CultureInfo.InvariantCulture, $"decimal128({d.Precision},{d.Scale})"),
        _ => type.Name,
    };
}
