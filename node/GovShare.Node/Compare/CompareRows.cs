using System.Buffers;
using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Compare;

/// <summary>
/// One row of a comparison as bytes, the same for both sides so that the join compares bytes:
/// <c>[u16 key length][key][per compared item: u8 0 = null | 1, then u32 length and the value]</c>.
/// The key is each key item's value, length-prefixed (so ("ab","c") and ("a","bc") stay two keys).
/// Values are their stored bytes: text as UTF-8, numbers, dates and instants at their Arrow width,
/// decimals at the catalog's scale, float64 by its bits, bool as one byte. Equal bytes are equal values.
/// </summary>
internal static class CompareRows
{
    /// <summary>The longest key a record carries (its length is a u16).</summary>
    public const int MaxKeyBytes = ushort.MaxValue;

    /// <summary>Encodes row <paramref name="row"/>; false (and nothing written) when a key item is null.</summary>
    /// <exception cref="CompareInputException">The key is longer than <see cref="MaxKeyBytes"/>.</exception>
    public static bool TryEncode(IArrowArray[] keys, IArrowArray[] compared, int row, ArrayBufferWriter<byte> output)
    {
        var keyLength = 0;
        foreach (var key in keys)
        {
            if (key.IsNull(row))
            {
                return false;
            }

            keyLength += 4 + ValueBytes(key, row).Length;
        }

        if (keyLength > MaxKeyBytes)
        {
            throw new CompareInputException("key-too-long", $"A row's key is {keyLength} bytes; at most {MaxKeyBytes}.");
        }

        BinaryPrimitives.WriteUInt16LittleEndian(output.GetSpan(2), (ushort)keyLength);
        output.Advance(2);
        foreach (var key in keys)
        {
            WriteValue(ValueBytes(key, row), output);
        }

        foreach (var item in compared)
        {
            if (item.IsNull(row))
            {
                output.GetSpan(1)[0] = 0;
                output.Advance(1);
                continue;
            }

            output.GetSpan(1)[0] = 1;
            output.Advance(1);
            WriteValue(ValueBytes(item, row), output);
        }

        return true;
    }

    /// <summary>The key part of a record.</summary>
    public static ReadOnlySpan<byte> Key(ReadOnlySpan<byte> record) => record.Slice(2, BinaryPrimitives.ReadUInt16LittleEndian(record));

    /// <summary>The compared values of a record, after its key.</summary>
    public static ReadOnlySpan<byte> Values(ReadOnlySpan<byte> record) => record[(2 + BinaryPrimitives.ReadUInt16LittleEndian(record))..];

    /// <summary>Reads the next value of a values section: null, or its bytes; advances past it.</summary>
    public static bool NextValue(ref ReadOnlySpan<byte> values, out ReadOnlySpan<byte> value)
    {
        if (values[0] == 0)
        {
            values = values[1..];
            value = default;
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(values[1..]);
        value = values.Slice(5, length);
        values = values[(5 + length)..];
        return true;
    }

    /// <summary>The key's parts, each a key item's value bytes, in key-item order.</summary>
    public static List<byte[]> KeyParts(ReadOnlySpan<byte> key)
    {
        var parts = new List<byte[]>();
        while (key.Length > 0)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(key);
            parts.Add(key.Slice(4, length).ToArray());
            key = key[(4 + length)..];
        }

        return parts;
    }

    /// <summary>Whether a compared type is one this encoding spells (every catalog item type is).</summary>
    public static bool Supports(IArrowType type) =>
        type is StringType or BinaryType or BooleanType || (type is FixedWidthType fixedWidth && fixedWidth.BitWidth % 8 == 0);

    private static void WriteValue(ReadOnlySpan<byte> bytes, ArrayBufferWriter<byte> output)
    {
        var span = output.GetSpan(4 + bytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, bytes.Length);
        bytes.CopyTo(span[4..]);
        output.Advance(4 + bytes.Length);
    }

    private static readonly byte[] True = [1];
    private static readonly byte[] False = [0];

    private static ReadOnlySpan<byte> ValueBytes(IArrowArray array, int row) => array switch
    {
        BinaryArray binary => binary.GetBytes(row),
        BooleanArray boolean => boolean.GetValue(row) == true ? True : False,
        _ when array.Data.DataType is FixedWidthType fixedWidth && fixedWidth.BitWidth % 8 == 0 =>
            array.Data.Buffers[1].Span.Slice((array.Data.Offset + row) * (fixedWidth.BitWidth / 8), fixedWidth.BitWidth / 8),
        _ => throw new NotSupportedException($"An item of type {array.Data.DataType.Name} cannot be compared."),
    };
}

/// <summary>A submission the comparison cannot take (a null or doubled key); a 400 with its <see cref="Code"/>.</summary>
public sealed class CompareInputException : Exception
{
    public CompareInputException(string code, string message)
        : base(message) => Code = code;

    public CompareInputException()
    {
        Code = "invalid-compare-key";
    }

    public CompareInputException(string message)
        : base(message) => Code = "invalid-compare-key";

    public CompareInputException(string message, Exception inner)
        : base(message, inner) => Code = "invalid-compare-key";

    /// <summary><c>key-null</c>, <c>key-duplicate</c> or <c>key-too-long</c>.</summary>
    public string Code { get; }
}
