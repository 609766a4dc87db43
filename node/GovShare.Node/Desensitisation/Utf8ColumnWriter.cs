using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Desensitisation;

/// <summary>
/// Builds a utf8 Arrow array straight into its three buffers (validity, offsets, data), so a
/// masker writes each output value's bytes once, without a string or a box per value. The
/// buffers are fresh arrays, or with <see cref="MaskingBuffers"/> arrays reused within a pull.
/// </summary>
internal sealed class Utf8ColumnWriter
{
    private readonly MaskingBuffers? _buffers;
    private readonly byte[] _validity;
    private readonly byte[] _offsets;
    private readonly int _length;
    private byte[] _data;
    private int _used;
    private int _count;
    private int _nulls;

    public Utf8ColumnWriter(int length, int dataCapacity, MaskingBuffers? buffers = null)
    {
        _buffers = buffers;
        _length = length;
        _validity = Take((length + 7) / 8);
        _validity.AsSpan(0, (length + 7) / 8).Clear();
        _offsets = Take((length + 1) * 4);
        BinaryPrimitives.WriteInt32LittleEndian(_offsets, 0);
        _data = Take(Math.Max(16, dataCapacity));
    }

    /// <summary>Space for the next value; commit what was written with <see cref="Commit"/>.</summary>
    public Span<byte> Reserve(int bytes)
    {
        if (_data.Length - _used < bytes)
        {
            var needed = (long)_used + bytes;
            if (needed > System.Array.MaxLength)
            {
                throw new InvalidOperationException("A masked column exceeds the largest Arrow buffer of one batch.");
            }

            var grown = Take((int)Math.Min(System.Array.MaxLength, Math.Max(_data.Length * 2L, needed)));
            _data.AsSpan(0, _used).CopyTo(grown);
            _data = grown;
        }

        return _data.AsSpan(_used, bytes);
    }

    public void Commit(int bytes)
    {
        _used += bytes;
        _validity[_count >> 3] |= (byte)(1 << (_count & 7));
        _count++;
        BinaryPrimitives.WriteInt32LittleEndian(_offsets.AsSpan(_count * 4), _used);
    }

    public void Append(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Reserve(value.Length));
        Commit(value.Length);
    }

    public void AppendNull()
    {
        _count++;
        _nulls++;
        BinaryPrimitives.WriteInt32LittleEndian(_offsets.AsSpan(_count * 4), _used);
    }

    public StringArray Build()
    {
        if (_count != _length)
        {
            throw new InvalidOperationException($"{_count} values were written for an array of {_length}.");
        }

        var data = new ArrayData(
            StringType.Default,
            _length,
            _nulls,
            0,
            [new ArrowBuffer(_validity.AsMemory(0, (_length + 7) / 8)), new ArrowBuffer(_offsets.AsMemory(0, (_length + 1) * 4)), new ArrowBuffer(_data.AsMemory(0, _used))]);
        return new StringArray(data);
    }

    private byte[] Take(int length) => _buffers?.Take(length) ?? new byte[length];
}
