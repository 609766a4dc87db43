using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// Brings a validated batch into the one form the node stores: every utf8 and binary column
/// with offsets starting at 0, at array offset 0, and a data buffer holding exactly its values.
/// </summary>
/// <remarks>
/// The Arrow format allows a first offset above 0, but Apache.Arrow 23's writer, given such an
/// array at array offset 0, copies the offsets unchanged while slicing the data buffer from the
/// first offset: the stored values then shift between rows (first offset 1) or point past the
/// data (8, 40), and every later pull of the version fails. Rebasing before the writer sees the
/// batch makes the stored file canonical whatever the sender chose.
/// </remarks>
public static class ArrowCanonicalForm
{
    /// <summary>The batch itself when it is canonical already, else a copy with its variable-length columns rebased.</summary>
    public static RecordBatch Canonicalise(RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        IArrowArray[]? columns = null;
        for (var c = 0; c < batch.ColumnCount; c++)
        {
            var data = batch.Column(c).Data;
            if (data.DataType is not (StringType or BinaryType) || IsCanonical(data))
            {
                continue;
            }

            columns ??= [.. Enumerable.Range(0, batch.ColumnCount).Select(batch.Column)];
            columns[c] = ArrowArrayFactory.BuildArray(Rebase(data));
        }

        return columns is null ? batch : new RecordBatch(batch.Schema, columns, batch.Length);
    }

    /// <summary>True when a variable-length array starts at offset 0 of its buffers and its first value offset is 0.</summary>
    public static bool IsCanonical(ArrayData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var offsets = data.Buffers[1].Span;
        return data.Offset == 0 && (offsets.IsEmpty || BinaryPrimitives.ReadInt32LittleEndian(offsets) == 0);
    }

    private static ArrayData Rebase(ArrayData data)
    {
        var offsets = data.Buffers[1].Span;
        var bytes = data.Buffers[2].Span;
        var first = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice(data.Offset * 4, 4));
        var last = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice((data.Offset + data.Length) * 4, 4));
        var rebased = new byte[(data.Length + 1) * 4];
        for (var i = 0; i <= data.Length; i++)
        {
            var value = BinaryPrimitives.ReadInt32LittleEndian(offsets.Slice((data.Offset + i) * 4, 4));
            BinaryPrimitives.WriteInt32LittleEndian(rebased.AsSpan(i * 4), value - first);
        }

        var validity = data.Buffers[0];
        if (data.Offset != 0 && !validity.IsEmpty)
        {
            var bitmap = validity.Span;
            var copy = new byte[(data.Length + 7) / 8];
            for (var i = 0; i < data.Length; i++)
            {
                if (ArrowBatchValidator.IsValid(bitmap, data.Offset + i))
                {
                    copy[i >> 3] |= (byte)(1 << (i & 7));
                }
            }

            validity = new ArrowBuffer(copy);
        }

        return new ArrayData(data.DataType, data.Length, data.NullCount, 0, [validity, new ArrowBuffer(rebased), new ArrowBuffer(bytes[first..last].ToArray())]);
    }
}
