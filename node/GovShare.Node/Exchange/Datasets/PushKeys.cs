using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Apache.Arrow;
using GovShare.Contract;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// The keys of a replace or append push to a resource with key items: each key once in the
/// push, and for an append not already among the stored rows. Checked by the push's own batch and
/// row numbers, before the version is committed, so a refused push publishes nothing.
/// </summary>
/// <remarks>
/// Bounded memory: a row costs 24 bytes (a 128-bit hash of its key bytes and its position), not
/// its key as text; a 2,000,000-row push holds about 50 MB while it is read (the growing list
/// briefly holds its previous array too). Keys are hashed with
/// XxHash128 under the process's random seed, over the same length-prefixed key bytes a merge compares
/// (<see cref="MergeChanges"/>). Collisions: two different keys share a hash with a probability of
/// about n²/2¹²⁹ (10⁻²⁶ at 2,000,000 rows); were it to happen, the push would be refused naming
/// both rows — a false refusal the provider can see, never a duplicate accepted or a row lost.
/// The seed is the store's (<see cref="KeyIndexSecret"/>, secret, the same for the folder's life), so the
/// hashes of a published push become its segment's key index for later merges and appends at no
/// cost (<see cref="PushedRowsIndex"/>), in memory and on disk. An append looks its keys up in the stored
/// segments' key indexes (<see cref="AddStoredAsync"/>): in proportion to the append, not the dataset,
/// once the indexes are in memory.
/// </remarks>
public sealed class PushKeys
{
    /// <summary>
    /// A key's hash and where it was seen: a pushed row as <c>batch &lt;&lt; 32 | row</c>, a stored row as
    /// <see cref="long.MinValue"/> + its ordinal in the stored version, so stored rows sort first.
    /// </summary>
    private readonly record struct Seen(ulong High, ulong Low, long Position) : IComparable<Seen>
    {
        public bool Stored => Position < 0;

        public int Batch => (int)(Position >> 32);

        public long Row => Stored ? Position - long.MinValue : (int)(uint)Position;

        public bool SameKey(Seen other) => High == other.High && Low == other.Low;

        public int CompareTo(Seen other)
        {
            var c = High.CompareTo(other.High);
            c = c != 0 ? c : Low.CompareTo(other.Low);
            return c != 0 ? c : Position.CompareTo(other.Position);
        }
    }

    private readonly Schema _schema;
    private readonly int[] _keyColumns;
    private readonly PushMode _mode;
    private readonly long _seed;
    private readonly List<Seen> _seen = [];
    private readonly List<long> _batchStarts = [];
    private readonly List<(SegmentKeyIndex Index, DatasetSegment Segment, long LiveBefore)> _stored = [];
    private long _pushedRows;
    private byte[] _buffer = new byte[256];
    private int _batches;

    /// <param name="schema">The catalog's schema (<c>CatalogEntry.ArrowSchema()</c>).</param>
    /// <param name="keyColumns">The indexes of the key items in <paramref name="schema"/>; at least one.</param>
    /// <param name="mode">Replace or append: named in the refusal.</param>
    /// <param name="store">The store the push goes to: its key hash seed.</param>
    public PushKeys(Schema schema, IReadOnlyList<int> keyColumns, PushMode mode, DatasetStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(keyColumns);
        if (keyColumns.Count == 0)
        {
            throw new ArgumentException("A key check needs at least one key item.", nameof(keyColumns));
        }

        _schema = schema;
        _keyColumns = [.. keyColumns];
        _mode = mode;
        _seed = store.KeySecret.Seed;
    }

    /// <summary>The stored version an append adds to, when its rows were read (<see cref="AddStoredAsync"/>).</summary>
    public int? StoredVersion { get; private set; }

    /// <summary>
    /// The stored version an append adds to: takes each of its segments' key indexes
    /// (<see cref="SegmentKeyIndexes"/>; a segment not indexed in memory or on disk is read once to build its
    /// own), so <see cref="ThrowIfDuplicated"/> looks up only the pushed keys instead of reading
    /// every stored row.
    /// </summary>
    public async Task AddStoredAsync(DatasetStore store, DatasetVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(version);
        StoredVersion = version.Version;
        long liveBefore = 0;
        foreach (var segment in version.Segments)
        {
            var index = await store.KeyIndexes.GetAsync(version, segment, _keyColumns, cancellationToken).ConfigureAwait(false);
            _stored.Add((index, segment, liveBefore));
            liveBefore += segment.LiveRows;
        }
    }

    /// <summary>Takes one pushed batch in the catalog's schema (call for every batch, in push order).</summary>
    public void Add(RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var index = _batches++;
        _batchStarts.Add(_pushedRows);
        _pushedRows += batch.Length;
        var keys = _keyColumns.Select(batch.Column).ToArray();
        for (var row = 0; row < batch.Length; row++)
        {
            Remember(keys, row, ((long)index << 32) | (uint)row);
        }
    }

    /// <summary>
    /// The key index of the segment this push writes (its batches in order, as taken by <see cref="Add"/>),
    /// from the hashes already made; call after <see cref="ThrowIfDuplicated"/> passed (they are sorted then).
    /// </summary>
    internal SegmentKeyIndex PushedRowsIndex()
    {
        var pushed = _seen.Where(s => !s.Stored).ToList();
        var hashes = new UInt128[pushed.Count];
        var positions = new long[pushed.Count];
        for (var i = 0; i < pushed.Count; i++)
        {
            hashes[i] = new UInt128(pushed[i].High, pushed[i].Low);
            positions[i] = _batchStarts[pushed[i].Batch] + pushed[i].Row;
        }

        return SegmentKeyIndex.FromSorted(hashes, positions);
    }

    /// <summary>Throws when a pushed row repeats a key of the push, or (append) a stored one.</summary>
    /// <exception cref="PushKeyException">Rule <c>key-duplicate</c>, each naming the row and the first row with its key.</exception>
    public void ThrowIfDuplicated()
    {
        AddStoredMatches();
        var seen = CollectionsMarshal.AsSpan(_seen);
        seen.Sort();
        var problems = new List<(Seen Row, Seen First)>();
        for (var i = 1; i < seen.Length; i++)
        {
            // Stored rows sort first among their key's: two stored rows with one key are not this push's doing.
            if (seen[i].SameKey(seen[i - 1]) && !seen[i].Stored)
            {
                var first = i - 1;
                while (first > 0 && seen[first - 1].SameKey(seen[i]))
                {
                    first--;
                }

                problems.Add((seen[i], seen[first]));
            }
        }

        if (problems.Count == 0)
        {
            return;
        }

        var item = string.Join("+", _keyColumns.Select(c => ItemId(_schema.GetFieldByIndex(c))));
        var mode = _mode == PushMode.Append ? "an append" : "a replace";
        var reported = problems.OrderBy(p => p.Row.Position).Take(ItemValueValidator.MaxReported).Select(p => new ValueViolation(
            item, p.Row.Batch, (int)p.Row.Row, "key-duplicate", 1,
            p.First.Stored
                ? string.Create(CultureInfo.InvariantCulture, $"Batch {p.Row.Batch}, row {p.Row.Row}: the same key as row {p.First.Row} of the stored version {StoredVersion}; {mode} adds new keys only (a merge push changes stored rows).")
                : string.Create(CultureInfo.InvariantCulture, $"Batch {p.Row.Batch}, row {p.Row.Row}: the same key as batch {p.First.Batch}, row {p.First.Row}; {mode} names each key once."))).ToList();
        throw new PushKeyException(reported, Math.Max(0, problems.Count - reported.Count));
    }

    /// <summary>
    /// Each stored row whose key a pushed row names (found by the segments' key indexes, rows a merge
    /// deleted left out), as a stored <see cref="Seen"/> numbered by its live row in the stored version.
    /// </summary>
    private void AddStoredMatches()
    {
        if (_stored.Count == 0)
        {
            return;
        }

        var pushed = _seen.Count;
        for (var i = 0; i < pushed; i++)
        {
            var hash = new UInt128(_seen[i].High, _seen[i].Low);
            foreach (var (index, segment, liveBefore) in _stored)
            {
                foreach (var position in index.Find(hash))
                {
                    if (segment.Deleted?.Contains(position) != true)
                    {
                        var live = liveBefore + position - DeletedBefore(segment.Deleted, position);
                        _seen.Add(new Seen(_seen[i].High, _seen[i].Low, long.MinValue + live));
                    }
                }
            }
        }

        _stored.Clear();
    }

    private static long DeletedBefore(DeletedRows? deleted, long position)
    {
        if (deleted is null)
        {
            return 0;
        }

        // The positions are sorted: the first at or after `position` is the count before it.
        var positions = deleted.Positions;
        int low = 0, high = positions.Count;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (positions[middle] < position)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    private void Remember(IArrowArray[] keys, int row, long position)
    {
        int length;
        while ((length = MergeChanges.WriteKey(keys, row, _buffer)) < 0)
        {
            _buffer = new byte[_buffer.Length * 2];
        }

        // A null key item is the value rules' to refuse (key items are required), not a key.
        if (length > 0)
        {
            var hash = XxHash128.HashToUInt128(_buffer.AsSpan(0, length), _seed);
            _seen.Add(new Seen((ulong)(hash >> 64), (ulong)hash, position));
        }
    }

    private static string ItemId(Field field) =>
        field.Metadata is { } m && m.TryGetValue(Catalog.CatalogEntry.ItemIdMetadataKey, out var id) ? id : field.Name;
}
