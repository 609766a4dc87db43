using System.Buffers.Binary;
using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// One Arrow buffer of a column being converted (values, offsets), written in place and handed to
/// the array as it is. Arrow's own builders grew their buffers by doubling, each step a fresh
/// zeroed allocation and a copy, and <c>Build</c> copied the whole buffer once more: in a profile
/// of the department tool's 200,000-row PostgreSQL push that was a fifth of its CPU, with the page
/// faults of all that fresh memory (benchmarks/results/profile-pg-push.txt). Here a batch's buffer
/// is allocated once at the size the previous batch needed for as many rows (uninitialised: every
/// byte handed out is written first), and the array takes it without a copy.
/// </summary>
internal sealed class GrowingBuffer(int bytesPerRowGuess)
{
    private byte[] _bytes = [];
    private int _bytesPerRow = bytesPerRowGuess;

    public int Length { get; private set; }

    /// <summary>Rows the next batch will hold (from the assembler); sizes the first allocation of a batch.</summary>
    public int ExpectedRows { get; set; } = 1024;

    /// <summary>Space for <paramref name="count"/> more bytes, to be written and then taken with <see cref="Advance"/>.</summary>
    public Span<byte> Reserve(int count)
    {
        if (_bytes.Length - Length < count)
        {
            Grow(count);
        }

        return _bytes.AsSpan(Length, count);
    }

    public void Advance(int count) => Length += count;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        Length += bytes.Length;
    }

    public void AppendInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);
        Length += 4;
    }

    public void AppendInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value);
        Length += 8;
    }

    /// <summary>The bytes written as an Arrow buffer (no copy); the next append starts a new allocation.</summary>
    public ArrowBuffer Take(int rows)
    {
        if (rows > 0 && Length > 0)
        {
            _bytesPerRow = Math.Max(1, (int)Math.Ceiling((double)Length / rows));
        }

        var buffer = new ArrowBuffer(_bytes.AsMemory(0, Length));
        _bytes = [];
        Length = 0;
        return buffer;
    }

    private void Grow(int count)
    {
        // A new batch: as many bytes a row as the last one took (plus an eighth for variable-width
        // values); within a batch (a first guess too small): doubling.
        var wanted = _bytes.Length == 0
            ? (long)_bytesPerRow * ExpectedRows * 9 / 8
            : (long)_bytes.Length * 2;
        var size = (int)Math.Min(Math.Max(wanted, (long)Length + count), System.Array.MaxLength);
        var bigger = GC.AllocateUninitializedArray<byte>(Math.Max(size, 64));
        _bytes.AsSpan(0, Length).CopyTo(bigger);
        _bytes = bigger;
    }
}

/// <summary>An Arrow validity bitmap written in place (see <see cref="GrowingBuffer"/>); none at all when every value is there.</summary>
internal sealed class ValidityBitmap
{
    private byte[] _bits = [];

    public int Length { get; private set; }

    public int NullCount { get; private set; }

    /// <summary>Rows the next batch will hold; sizes the bitmap's allocation.</summary>
    public int ExpectedRows { get; set; } = 1024;

    public void Append(bool valid)
    {
        var index = Length >> 3;
        if ((Length & 7) == 0)
        {
            if (index == _bits.Length)
            {
                var bigger = GC.AllocateUninitializedArray<byte>(Math.Max(Math.Max(_bits.Length * 2, (ExpectedRows + 7) >> 3), 8));
                _bits.CopyTo(bigger, 0);
                _bits = bigger;
            }

            _bits[index] = 0; // uninitialised memory: each byte is cleared as it is first used
        }

        if (valid)
        {
            _bits[index] |= (byte)(1 << (Length & 7));
        }
        else
        {
            NullCount++;
        }

        Length++;
    }

    /// <summary>The bits as an Arrow buffer whatever they are (a boolean column's values); starts a new one.</summary>
    public ArrowBuffer TakeBits()
    {
        var bits = new ArrowBuffer(_bits.AsMemory(0, (Length + 7) >> 3));
        _bits = [];
        Length = 0;
        NullCount = 0;
        return bits;
    }

    /// <summary>The bitmap as an Arrow buffer (empty when no value is null), and its null count; starts a new one.</summary>
    public (ArrowBuffer Bitmap, int NullCount) Take()
    {
        var taken = (NullCount == 0 ? ArrowBuffer.Empty : new ArrowBuffer(_bits.AsMemory(0, (Length + 7) >> 3)), NullCount);
        _bits = [];
        Length = 0;
        NullCount = 0;
        return taken;
    }
}
