using System.Buffers.Binary;
using System.IO.Hashing;
using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// A key-hash sync's two hashes of one source row, made from the Arrow values themselves: the key
/// hash (its key items) and the row hash (every item), each a 128-bit XxHash128 of the values'
/// bytes written into one reused buffer. No string, array or hash object is made per row.
/// </summary>
/// <remarks>
/// Each value is written as a presence byte (0 null, 1 present) and then its bytes: fixed-width
/// values little-endian (int32, int64, float64 bits, date32 days, decimal128's 16 bytes, a
/// timestamp as UTC ticks whatever its unit, a boolean as one byte), text and binary as a 4-byte
/// length and the bytes. So two rows that differ in any value, or only in which value is null, give
/// different bytes, and equal rows equal bytes. Not cryptographic: the rows are the department's
/// own, hashed on its own machine, and the hashes never leave it; what is needed is that a changed
/// row changes its hash (a pair of rows agrees by chance with probability 2⁻¹²⁸) and speed.
/// Version <see cref="SyncState.HashVersion"/>: any change to these bytes must raise it.
/// </remarks>
internal sealed class SyncRowHasher(int[] keyColumns)
{
    private byte[] _buffer = new byte[256];
    private int _length;

    /// <summary>The key hash and the row hash of row <paramref name="row"/> of <paramref name="batch"/>.</summary>
    public (UInt128 Key, UInt128 Row) Hash(RecordBatch batch, int row)
    {
        _length = 0;
        foreach (var column in keyColumns)
        {
            Append(batch.Column(column), row);
        }

        var keyLength = _length;
        for (var column = 0; column < batch.ColumnCount; column++)
        {
            Append(batch.Column(column), row);
        }

        var bytes = _buffer.AsSpan(0, _length);
        return (XxHash128.HashToUInt128(bytes[..keyLength]), XxHash128.HashToUInt128(bytes[keyLength..]));
    }

    private void Append(IArrowArray array, int row)
    {
        if (array.IsNull(row))
        {
            Room(1)[0] = 0;
            _length++;
            return;
        }

        switch (array)
        {
            case BinaryArray text: // StringArray too: its UTF-8 bytes.
                var value = text.GetBytes(row);
                var to = Room(5 + value.Length);
                to[0] = 1;
                BinaryPrimitives.WriteInt32LittleEndian(to[1..], value.Length);
                value.CopyTo(to[5..]);
                _length += 5 + value.Length;
                break;
            case Int32Array a:
                Fixed4(a.Values[row]);
                break;
            case Date32Array a:
                Fixed4(a.Values[row]);
                break;
            case Int64Array a:
                Fixed8(a.Values[row]);
                break;
            case DoubleArray a:
                Fixed8(BitConverter.DoubleToInt64Bits(a.Values[row]));
                break;
            case TimestampArray a:
                Fixed8(a.GetTimestamp(row)!.Value.UtcTicks);
                break;
            case BooleanArray a:
                var flag = Room(2);
                flag[0] = 1;
                flag[1] = a.GetValue(row) == true ? (byte)1 : (byte)0;
                _length += 2;
                break;
            case Decimal128Array a: // the 16 bytes of the unscaled value; the scale is the item's.
                var bytes = a.GetBytes(row);
                var into = Room(1 + bytes.Length);
                into[0] = 1;
                bytes.CopyTo(into[1..]);
                _length += 1 + bytes.Length;
                break;
            default:
                throw new NotSupportedException($"Arrow type {array.Data.DataType.Name} is not an item type.");
        }
    }

    private void Fixed4(int value)
    {
        var to = Room(5);
        to[0] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(to[1..], value);
        _length += 5;
    }

    private void Fixed8(long value)
    {
        var to = Room(9);
        to[0] = 1;
        BinaryPrimitives.WriteInt64LittleEndian(to[1..], value);
        _length += 9;
    }

    private Span<byte> Room(int bytes)
    {
        if (_length + bytes > _buffer.Length)
        {
            System.Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
        }

        return _buffer.AsSpan(_length, bytes);
    }
}
