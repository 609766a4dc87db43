using System.Buffers.Binary;
using Apache.Arrow;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// The rows of one stored segment that a version no longer holds: their positions in the
/// segment file (0 = its first row), sorted, each once. A merge push (<see cref="MergePush"/>)
/// publishes the previous version's segments with the rows it replaced or deleted listed here,
/// plus one new segment of its upserts, so a one-row change writes one row; every reader of the
/// version (<see cref="DatasetReader"/>) leaves these rows out. Recorded in the version's record
/// (not in the immutable file, which other versions share), so one file can be whole in one
/// version and thinned in the next.
/// </summary>
public sealed class DeletedRows : IEquatable<DeletedRows>
{
    private readonly long[] _positions;

    private DeletedRows(long[] positions) => _positions = positions;

    /// <summary>How many rows of the segment are left out.</summary>
    public int Count => _positions.Length;

    /// <summary>The positions, sorted.</summary>
    public IReadOnlyList<long> Positions => _positions;

    /// <summary>The given positions, sorted and each once; null when there are none.</summary>
    public static DeletedRows? Of(IEnumerable<long> positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var sorted = positions.Distinct().Order().ToArray();
        return sorted.Length == 0 ? null : new DeletedRows(sorted);
    }

    /// <summary>This set with <paramref name="more"/> added.</summary>
    public static DeletedRows? Union(DeletedRows? set, IEnumerable<long> more) =>
        Of(set is null ? more : set._positions.Concat(more));

    public bool Contains(long position) => System.Array.BinarySearch(_positions, position) >= 0;

    /// <summary>The stored form: each position as 8 little-endian bytes, in order.</summary>
    internal byte[] ToBytes()
    {
        var bytes = new byte[_positions.Length * 8];
        for (var i = 0; i < _positions.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), _positions[i]);
        }

        return bytes;
    }

    /// <summary>Reads the stored form back; a record that is not sorted positions is refused (it would hide other rows).</summary>
    /// <exception cref="InvalidDataException">Not a whole number of positions, or not strictly increasing.</exception>
    internal static DeletedRows? FromBytes(byte[]? bytes, long segmentRows)
    {
        if (bytes is null || bytes.Length == 0)
        {
            return null;
        }

        if (bytes.Length % 8 != 0)
        {
            throw new InvalidDataException("A segment's deleted-rows record is not a whole number of positions.");
        }

        var positions = new long[bytes.Length / 8];
        for (var i = 0; i < positions.Length; i++)
        {
            positions[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * 8));
            if (positions[i] < 0 || positions[i] >= segmentRows || (i > 0 && positions[i] <= positions[i - 1]))
            {
                throw new InvalidDataException("A segment's deleted-rows record is not increasing positions inside the segment.");
            }
        }

        return new DeletedRows(positions);
    }

    /// <summary>
    /// The rows of <paramref name="batch"/> (whose first row is at <paramref name="first"/> in its
    /// segment) that are not deleted: the batch itself when none is, null when all are, else a
    /// new batch in canonical form (a pull's writer must never see sliced variable-length columns,
    /// see <see cref="ArrowCanonicalForm"/>).
    /// </summary>
    internal RecordBatch? Keep(RecordBatch batch, long first)
    {
        var from = System.Array.BinarySearch(_positions, first);
        from = from < 0 ? ~from : from;
        var end = first + batch.Length;
        if (from == _positions.Length || _positions[from] >= end)
        {
            return batch;
        }

        var kept = new List<int>(batch.Length);
        var next = from;
        for (var row = 0; row < batch.Length; row++)
        {
            if (next < _positions.Length && _positions[next] == first + row)
            {
                next++;
            }
            else
            {
                kept.Add(row);
            }
        }

        return kept.Count == 0 ? null : ArrowCanonicalForm.Canonicalise(MergeChanges.Take(batch, kept));
    }

    public bool Equals(DeletedRows? other) => other is not null && _positions.AsSpan().SequenceEqual(other._positions);

    public override bool Equals(object? obj) => Equals(obj as DeletedRows);

    public override int GetHashCode() => HashCode.Combine(_positions.Length, _positions.Length > 0 ? _positions[0] : 0);
}
