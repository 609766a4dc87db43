using System.Buffers.Binary;
using System.Numerics;
using System.Text.Unicode;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// Checks a schema and every array of a record batch before any value is read: supported
/// types only, buffers long enough for the declared length and offset, null counts that agree
/// with the validity bitmap, and variable-length offsets that are monotonic and inside the data
/// buffer. Apache.Arrow's accessors trust these (a bad string offset reads out of bounds and
/// kills the process), so nothing may touch a value of an unvalidated batch.
/// </summary>
public static class ArrowBatchValidator
{
    /// <summary>The item types the catalog uses, as a sentence for error messages.</summary>
    public const string SupportedTypesText = "utf8, binary, int32, int64, float64, boolean, date32, timestamp[ms|us] and decimal128";

    /// <summary>Checks that every field of a schema has a supported type.</summary>
    /// <exception cref="ArrowInputException">A field's type is not supported.</exception>
    public static void ValidateSchema(Schema schema, ArrowInputLimits limits)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(limits);
        if (schema.FieldsList.Count == 0 || schema.FieldsList.Count > limits.MaxColumns)
        {
            throw new ArrowInputException(ArrowInputError.TooManyColumns, $"The schema has {schema.FieldsList.Count} columns; 1 to {limits.MaxColumns} are accepted.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < schema.FieldsList.Count; i++)
        {
            var field = schema.FieldsList[i];
            if (!names.Add(field.Name ?? ""))
            {
                throw new ArrowInputException(ArrowInputError.DuplicateColumn, $"Column {i} repeats the name '{field.Name}'.");
            }

            if (!IsSupported(field.DataType))
            {
                throw new ArrowInputException(ArrowInputError.UnsupportedType, $"Column {i} ('{field.Name}') has type {field.DataType.Name}; the supported item types are {SupportedTypesText}.");
            }
        }
    }

    /// <summary>True for the item types the exchange accepts.</summary>
    public static bool IsSupported(IArrowType type) => type switch
    {
        StringType or BinaryType or Int32Type or Int64Type or DoubleType or BooleanType or Date32Type => true,
        TimestampType t => t.Unit is TimeUnit.Millisecond or TimeUnit.Microsecond,
        Decimal128Type d => d.Precision is >= 1 and <= 38 && d.Scale >= 0 && d.Scale <= d.Precision,
        _ => false,
    };

    /// <summary>Checks every column of a batch against its schema.</summary>
    /// <exception cref="ArrowInputException">The batch is inconsistent; its message names the column.</exception>
    public static void ValidateBatch(RecordBatch batch, Schema schema, ArrowInputLimits limits)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(limits);
        if (batch.ColumnCount != schema.FieldsList.Count)
        {
            throw new ArrowInputException(ArrowInputError.LayoutMismatch, $"The record batch has {batch.ColumnCount} columns; the schema has {schema.FieldsList.Count}.");
        }

        if (batch.Length < 0 || batch.Length > limits.MaxRowsPerBatch)
        {
            throw new ArrowInputException(ArrowInputError.InvalidLength, $"The record batch declares {batch.Length} rows; the cap is {limits.MaxRowsPerBatch}.");
        }

        for (var c = 0; c < batch.ColumnCount; c++)
        {
            var data = batch.Column(c).Data;
            var field = schema.FieldsList[c];
            if (!ReferenceEquals(data.DataType, field.DataType) && data.DataType.TypeId != field.DataType.TypeId)
            {
                throw Column(ArrowInputError.LayoutMismatch, c, field, $"holds {data.DataType.Name} values");
            }

            if (data.Length != batch.Length)
            {
                throw Column(ArrowInputError.InvalidLength, c, field, $"has {data.Length} values in a batch of {batch.Length} rows");
            }

            ValidateArray(data, c, field);
        }
    }

    private static void ValidateArray(ArrayData data, int c, Field field)
    {
        if (!IsSupported(data.DataType))
        {
            throw Column(ArrowInputError.UnsupportedType, c, field, $"has type {data.DataType.Name}");
        }

        if ((data.Children is { Length: > 0 }) || data.Dictionary is not null)
        {
            throw Column(ArrowInputError.UnsupportedType, c, field, "has child or dictionary data");
        }

        if (data.Length < 0 || data.Offset < 0 || (long)data.Offset + data.Length > int.MaxValue)
        {
            throw Column(ArrowInputError.InvalidLength, c, field, $"declares length {data.Length} at offset {data.Offset}");
        }

        var variable = data.DataType is StringType or BinaryType;
        var expectedBuffers = variable ? 3 : 2;
        if (data.Buffers is null || data.Buffers.Length != expectedBuffers)
        {
            throw Column(ArrowInputError.LayoutMismatch, c, field, $"has {data.Buffers?.Length ?? 0} buffers; {expectedBuffers} are needed");
        }

        var end = (long)data.Offset + data.Length;
        ValidateValidity(data, end, c, field);

        var values = data.Buffers[1].Span;
        switch (data.DataType)
        {
            case BooleanType:
                Need(values.Length, (end + 7) / 8, c, field, "value bitmap");
                break;
            case Int32Type or Date32Type:
                Need(values.Length, end * 4, c, field, "value buffer");
                break;
            case Int64Type or DoubleType or TimestampType:
                Need(values.Length, end * 8, c, field, "value buffer");
                break;
            case Decimal128Type:
                Need(values.Length, end * 16, c, field, "value buffer");
                break;
            default:
                ValidateVariable(data, c, field);
                break;
        }
    }

    private static void ValidateValidity(ArrayData data, long end, int c, Field field)
    {
        var bitmap = data.Buffers[0].Span;
        if (data.NullCount < 0 || data.NullCount > data.Length)
        {
            throw Column(ArrowInputError.InvalidNullCount, c, field, $"declares {data.NullCount} nulls in {data.Length} values");
        }

        if (bitmap.IsEmpty)
        {
            if (data.NullCount != 0)
            {
                throw Column(ArrowInputError.BufferTooShort, c, field, $"declares {data.NullCount} nulls but has no validity bitmap");
            }

            return;
        }

        Need(bitmap.Length, (end + 7) / 8, c, field, "validity bitmap");
        var nulls = data.Length - CountSetBits(bitmap, data.Offset, data.Length);
        if (nulls != data.NullCount)
        {
            throw Column(ArrowInputError.InvalidNullCount, c, field, $"declares {data.NullCount} nulls but its validity bitmap has {nulls}");
        }
    }

    private static void ValidateVariable(ArrayData data, int c, Field field)
    {
        var offsets = data.Buffers[1].Span;
        var bytes = data.Buffers[2].Span;
        if (data.Length == 0 && offsets.IsEmpty)
        {
            return;
        }

        Need(offsets.Length, ((long)data.Offset + data.Length + 1) * 4, c, field, "offsets buffer");
        var bitmap = data.Buffers[0].Span;
        var checkUtf8 = data.DataType is StringType;
        var previous = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice(data.Offset * 4, 4));
        if (previous < 0 || previous > bytes.Length)
        {
            throw Column(ArrowInputError.InvalidOffsets, c, field, $"starts at offset {previous} outside its {bytes.Length}-byte data buffer");
        }

        var first = previous;
        // Offsets first, with a check that each value starts a character (no value begins with a
        // UTF-8 continuation byte): then one vectorised pass over all the column's bytes proves
        // every value valid, since a valid whole cut only at character starts is valid pieces.
        // Per value, Utf8.IsValid cost more in calls than in bytes (short strings, millions a push).
        var cutAtCharacters = true;
        for (var i = 0; i < data.Length; i++)
        {
            var next = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice((data.Offset + i + 1) * 4, 4));
            if (next < previous || next > bytes.Length)
            {
                throw Column(ArrowInputError.InvalidOffsets, c, field, $"has offset {next} after {previous} at value {i}, outside 0..{bytes.Length} or decreasing");
            }

            if (next > previous && (bytes[previous] & 0xC0) == 0x80)
            {
                cutAtCharacters = false;
            }

            previous = next;
        }

        if (!checkUtf8 || (cutAtCharacters && Utf8.IsValid(bytes[first..previous])))
        {
            return;
        }

        // Something is invalid, or a null's bytes are (which are not checked): value by value, to
        // name the first invalid one, or to accept what only a null's bytes broke.
        previous = first;
        for (var i = 0; i < data.Length; i++)
        {
            var next = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice((data.Offset + i + 1) * 4, 4));
            if (next > previous && IsValid(bitmap, data.Offset + i) && !Utf8.IsValid(bytes[previous..next]))
            {
                throw Column(ArrowInputError.InvalidUtf8, c, field, $"value {i} is not valid UTF-8");
            }

            previous = next;
        }
    }

    internal static bool IsValid(ReadOnlySpan<byte> bitmap, int index) =>
        bitmap.IsEmpty || (bitmap[index >> 3] & (1 << (index & 7))) != 0;

    private static int CountSetBits(ReadOnlySpan<byte> bitmap, int offset, int length)
    {
        var count = 0;
        var i = 0;

        // Leading bits up to a byte boundary, whole bytes, then the tail.
        while (i < length && ((offset + i) & 7) != 0)
        {
            count += IsValid(bitmap, offset + i) ? 1 : 0;
            i++;
        }

        var wholeBytes = (length - i) >> 3;
        var start = (offset + i) >> 3;
        var whole = bitmap.Slice(start, wholeBytes);
        var w = 0;
        for (; w + 8 <= whole.Length; w += 8)
        {
            count += BitOperations.PopCount(BinaryPrimitives.ReadUInt64LittleEndian(whole.Slice(w, 8)));
        }

        for (; w < whole.Length; w++)
        {
            count += BitOperations.PopCount(whole[w]);
        }

        i += wholeBytes * 8;
        for (; i < length; i++)
        {
            count += IsValid(bitmap, offset + i) ? 1 : 0;
        }

        return count;
    }

    private static void Need(int have, long need, int c, Field field, string buffer)
    {
        if (have < need)
        {
            throw Column(ArrowInputError.BufferTooShort, c, field, $"has a {have}-byte {buffer}; its length needs {need}");
        }
    }

    private static ArrowInputException Column(ArrowInputError error, int c, Field field, string what) =>
        new(error, $"Column {c} ('{field.Name}') {what}.");
}
