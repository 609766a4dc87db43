using System.Buffers;
using System.Buffers.Binary;
using Apache.Arrow;

namespace GovShare.Node.Compare;

/// <summary>What one compared item came to, over the rows both sides hold.</summary>
public sealed class ItemCounts
{
    /// <summary>Equal on both sides (both null counts as equal).</summary>
    public long Matched { get; internal set; }

    /// <summary>A value on both sides, not equal.</summary>
    public long Differing { get; internal set; }

    /// <summary>A value in the submission, null in the resource.</summary>
    public long MissingInResource { get; internal set; }

    /// <summary>A value in the resource, null in the submission.</summary>
    public long MissingInSubmission { get; internal set; }
}

/// <summary>A key the comparison lists: a row whose listed items differ, or a submitted row the resource does not hold.</summary>
/// <param name="Key">The key's bytes (<see cref="CompareRows.KeyParts"/>).</param>
/// <param name="DifferingItems">Bit i: compared item i differs (value against value, or value against null); 0 for a row not in the resource.</param>
public sealed record ListedKey(byte[] Key, ulong DifferingItems)
{
    public bool NotInResource => DifferingItems == 0;
}

/// <summary>The outcome of a comparison.</summary>
public sealed class CompareResult
{
    internal CompareResult(int items) => Items = [.. Enumerable.Range(0, items).Select(_ => new ItemCounts())];

    public long SubmittedRows { get; internal set; }
    public long ResourceRows { get; internal set; }
    public long RowsInBoth { get; internal set; }
    public long OnlyInSubmission { get; internal set; }
    public long OnlyInResource { get; internal set; }

    /// <summary>Resource rows whose key an earlier resource row already had (the node does not force keys unique on replace); not compared.</summary>
    public long DuplicateKeysInResource { get; internal set; }

    /// <summary>Rows in both that differ in at least one item the caller may see listed.</summary>
    public long DifferingRows { get; internal set; }

    /// <summary>Per compared item, in the order given.</summary>
    public IReadOnlyList<ItemCounts> Items { get; }

    /// <summary>The listed keys, in key-byte order: the first <c>maxListed</c> of all that qualify, whatever the join's partitioning.</summary>
    public IReadOnlyList<ListedKey> Listed { get; internal set; } = [];

    /// <summary>Keys that qualified but were beyond the list's cap.</summary>
    public long ListedOmitted { get; internal set; }

    /// <summary>Whether the join spilled to disk, and into how many partitions at the first level.</summary>
    public int SpilledPartitions { get; internal set; }
}

/// <summary>
/// A grace hash join of a submission (build side) against a resource (probe side) by key, in
/// bounded memory. The submission's rows go into an in-memory table while it stays under
/// <c>memoryBytes</c>; past it, every row of both sides is written to one of
/// <see cref="Partitions"/> files by a hash of its key, and each pair of partition files is
/// joined in turn (a partition still too large is split again, with another hash). Results are
/// exact either way: rows are compared byte for byte, never by hash. The spill folder is the
/// caller's and is deleted with this object, on success, failure and cancellation alike.
/// </summary>
public sealed class CompareJoin : IDisposable
{
    /// <summary>Partitions per spill level.</summary>
    public const int Partitions = 64;

    /// <summary>What one table entry costs beyond its record's bytes: the array header, the dictionary's entry and bucket.</summary>
    private const int EntryOverhead = 64;

    private const int MaxDepth = 4;

    private readonly int _items;
    private readonly ulong _listedItems;
    private readonly bool _listNotInResource;
    private readonly long _memoryBytes;
    private readonly string _spillFolder;
    private readonly int _maxListed;
    private readonly CompareResult _result;
    private readonly PriorityQueue<ListedKey, byte[]> _listed;
    private readonly ArrayBufferWriter<byte> _scratch = new(256);
    private Dictionary<byte[], bool>? _table = new(RecordKeyComparer.Instance);
    private long _tableBytes;
    private PartitionWriters? _submissionSpill;
    private PartitionWriters? _resourceSpill;

    /// <param name="items">Compared items (at most 64).</param>
    /// <param name="listedItems">Bit i set: a difference in item i lists the row's key (items the caller may see unmasked).</param>
    /// <param name="listNotInResource">Whether submitted keys the resource does not hold are listed.</param>
    /// <param name="memoryBytes">The in-memory table's budget before it spills.</param>
    /// <param name="spillFolder">A folder of this join's own; created when it first spills, deleted on dispose.</param>
    /// <param name="maxListed">The most keys listed.</param>
    public CompareJoin(int items, ulong listedItems, bool listNotInResource, long memoryBytes, string spillFolder, int maxListed)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(items, 64);
        _items = items;
        _listedItems = listedItems;
        _listNotInResource = listNotInResource;
        _memoryBytes = Math.Max(1024, memoryBytes);
        _spillFolder = spillFolder;
        _maxListed = Math.Max(0, maxListed);
        _result = new CompareResult(items);
        _listed = new PriorityQueue<ListedKey, byte[]>(KeyOrder.Descending);
    }

    /// <summary>Submitted rows so far.</summary>
    public long SubmittedRows => _result.SubmittedRows;

    /// <summary>Whether the build side has been written to disk.</summary>
    public bool Spilled => _submissionSpill is not null;

    /// <summary>Adds a submitted batch: its key columns and compared columns, in order.</summary>
    /// <exception cref="CompareInputException">A null key item, or a key already submitted (found here while in memory, else at <see cref="Finish"/>).</exception>
    public void AddSubmission(IArrowArray[] keys, IArrowArray[] compared, int rows)
    {
        for (var row = 0; row < rows; row++)
        {
            _scratch.ResetWrittenCount();
            if (!CompareRows.TryEncode(keys, compared, row, _scratch))
            {
                throw new CompareInputException("key-null", $"Submitted row {_result.SubmittedRows}: a key item is null; every submitted row names its key.");
            }

            _result.SubmittedRows++;
            var record = _scratch.WrittenSpan;
            if (_submissionSpill is not null)
            {
                _submissionSpill.Write(record, Partition(CompareRows.Key(record), 0));
                continue;
            }

            if (!_table!.TryAdd(record.ToArray(), false))
            {
                throw Duplicate();
            }

            _tableBytes += record.Length + EntryOverhead;
            if (_tableBytes > _memoryBytes)
            {
                SpillTable();
            }
        }
    }

    /// <summary>Adds a batch of the resource; the submission must be complete.</summary>
    public void AddResource(IArrowArray[] keys, IArrowArray[] compared, int rows)
    {
        for (var row = 0; row < rows; row++)
        {
            _result.ResourceRows++;
            _scratch.ResetWrittenCount();
            if (!CompareRows.TryEncode(keys, compared, row, _scratch))
            {
                // A resource row without its key cannot be matched: it counts as the resource's only.
                _result.OnlyInResource++;
                continue;
            }

            var record = _scratch.WrittenSpan;
            if (_resourceSpill is not null)
            {
                _resourceSpill.Write(record, Partition(CompareRows.Key(record), 0));
            }
            else
            {
                Probe(_table!, record);
            }
        }
    }

    /// <summary>Ends the join (joining the spilled partitions, if any) and returns the result.</summary>
    public CompareResult Finish(CancellationToken cancellationToken = default)
    {
        if (_submissionSpill is null)
        {
            Unmatched(_table!);
            _table = null;
        }
        else
        {
            _submissionSpill.Dispose();
            _resourceSpill!.Dispose();
            _result.SpilledPartitions = Partitions;
            for (var p = 0; p < Partitions; p++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                JoinPartition(_submissionSpill, _resourceSpill, p, 1, cancellationToken);
            }
        }

        var listed = new List<ListedKey>(_listed.Count);
        while (_listed.TryDequeue(out var key, out _))
        {
            listed.Add(key);
        }

        listed.Reverse();
        _result.Listed = listed;
        return _result;
    }

    public void Dispose()
    {
        _submissionSpill?.Dispose();
        _resourceSpill?.Dispose();
        _table = null;
        if (Directory.Exists(_spillFolder))
        {
            Directory.Delete(_spillFolder, recursive: true);
        }
    }

    /// <summary>Writes the table and what follows of the submission to partition files; the resource will follow.</summary>
    private void SpillTable()
    {
        Directory.CreateDirectory(_spillFolder);
        _submissionSpill = new PartitionWriters(Path.Combine(_spillFolder, "s"), Partitions);
        _resourceSpill = new PartitionWriters(Path.Combine(_spillFolder, "r"), Partitions);
        foreach (var record in _table!.Keys)
        {
            _submissionSpill.Write(record, Partition(CompareRows.Key(record), 0));
        }

        _table = null;
        _tableBytes = 0;
    }

    /// <summary>Joins one pair of partition files, splitting them again while the build side outgrows memory.</summary>
    private void JoinPartition(PartitionWriters submissions, PartitionWriters resources, int p, int depth, CancellationToken cancellationToken)
    {
        var submission = submissions.PathOf(p);
        var resource = resources.PathOf(p);
        if (submissions.Bytes[p] + (submissions.Records[p] * EntryOverhead) > _memoryBytes && depth < MaxDepth)
        {
            var folder = submission + ".split";
            Directory.CreateDirectory(folder);
            using (var s = new PartitionWriters(Path.Combine(folder, "s"), Partitions))
            using (var r = new PartitionWriters(Path.Combine(folder, "r"), Partitions))
            {
                foreach (var record in ReadRecords(submission))
                {
                    s.Write(record, Partition(CompareRows.Key(record), depth));
                }

                foreach (var record in ReadRecords(resource))
                {
                    r.Write(record, Partition(CompareRows.Key(record), depth));
                }

                s.Dispose();
                r.Dispose();
                File.Delete(submission);
                File.Delete(resource);
                for (var sub = 0; sub < Partitions; sub++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    JoinPartition(s, r, sub, depth + 1, cancellationToken);
                }
            }

            Directory.Delete(folder, recursive: true);
            return;
        }

        var table = new Dictionary<byte[], bool>(RecordKeyComparer.Instance);
        foreach (var record in ReadRecords(submission))
        {
            if (!table.TryAdd(record, false))
            {
                throw Duplicate();
            }
        }

        File.Delete(submission);
        foreach (var record in ReadRecords(resource))
        {
            Probe(table, record);
        }

        File.Delete(resource);
        Unmatched(table);
    }

    private void Probe(Dictionary<byte[], bool> table, ReadOnlySpan<byte> record)
    {
        var lookup = table.GetAlternateLookup<ReadOnlySpan<byte>>();
        var key = CompareRows.Key(record);
        if (!lookup.TryGetValue(key, out var submitted, out var matched))
        {
            _result.OnlyInResource++;
            return;
        }

        if (matched)
        {
            _result.DuplicateKeysInResource++;
            return;
        }

        lookup[key] = true;
        _result.RowsInBoth++;
        var mine = CompareRows.Values(submitted);
        var theirs = CompareRows.Values(record);
        ulong differing = 0;
        for (var i = 0; i < _items; i++)
        {
            var hasMine = CompareRows.NextValue(ref mine, out var a);
            var hasTheirs = CompareRows.NextValue(ref theirs, out var b);
            var counts = _result.Items[i];
            if (hasMine && hasTheirs)
            {
                if (a.SequenceEqual(b))
                {
                    counts.Matched++;
                }
                else
                {
                    counts.Differing++;
                    differing |= 1UL << i;
                }
            }
            else if (hasMine)
            {
                counts.MissingInResource++;
                differing |= 1UL << i;
            }
            else if (hasTheirs)
            {
                counts.MissingInSubmission++;
                differing |= 1UL << i;
            }
            else
            {
                counts.Matched++;
            }
        }

        differing &= _listedItems;
        if (differing != 0)
        {
            _result.DifferingRows++;
            List(key, differing);
        }
    }

    private void Unmatched(Dictionary<byte[], bool> table)
    {
        foreach (var (record, matched) in table)
        {
            if (!matched)
            {
                _result.OnlyInSubmission++;
                if (_listNotInResource)
                {
                    List(CompareRows.Key(record), 0);
                }
            }
        }
    }

    /// <summary>Keeps the <see cref="_maxListed"/> smallest keys: the same list whether or not the join spilled.</summary>
    private void List(ReadOnlySpan<byte> key, ulong differing)
    {
        if (_maxListed == 0)
        {
            _result.ListedOmitted++;
            return;
        }

        if (_listed.Count < _maxListed)
        {
            var copy = key.ToArray();
            _listed.Enqueue(new ListedKey(copy, differing), copy);
            return;
        }

        _result.ListedOmitted++;
        _listed.TryPeek(out _, out var largest);
        if (key.SequenceCompareTo(largest) < 0)
        {
            var copy = key.ToArray();
            _listed.DequeueEnqueue(new ListedKey(copy, differing), copy);
        }
    }

    private CompareInputException Duplicate() =>
        new("key-duplicate", $"A key is submitted twice (found among {_result.SubmittedRows} submitted rows); a comparison names each key once.");

    private static int Partition(ReadOnlySpan<byte> key, int depth)
    {
        // Another seed per level, so a partition split again spreads over all its sub-partitions.
        var hash = new HashCode();
        hash.Add(0x5bd1e995 * (depth + 1));
        hash.AddBytes(key);
        return (int)((uint)hash.ToHashCode() % Partitions);
    }

    private static IEnumerable<byte[]> ReadRecords(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var header = new byte[4];
        while (true)
        {
            var read = stream.ReadAtLeast(header, 4, throwOnEndOfStream: false);
            if (read == 0)
            {
                yield break;
            }

            if (read < 4)
            {
                throw new IOException($"Spill file {file} ends inside a record header.");
            }

            var record = new byte[BinaryPrimitives.ReadInt32LittleEndian(header)];
            stream.ReadExactly(record);
            yield return record;
        }
    }

    /// <summary>One buffered file per partition, counting what each holds.</summary>
    private sealed class PartitionWriters : IDisposable
    {
        private readonly string _prefix;
        private readonly FileStream?[] _files;
        private readonly byte[] _header = new byte[4];
        private bool _closed;

        public PartitionWriters(string prefix, int partitions)
        {
            _prefix = prefix;
            _files = new FileStream?[partitions];
            Records = new long[partitions];
            Bytes = new long[partitions];
        }

        public long[] Records { get; }

        public long[] Bytes { get; }

        public string PathOf(int partition) => $"{_prefix}{partition:D2}.part";

        public void Write(ReadOnlySpan<byte> record, int partition)
        {
            var file = _files[partition] ??= new FileStream(PathOf(partition), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            BinaryPrimitives.WriteInt32LittleEndian(_header, record.Length);
            file.Write(_header);
            file.Write(record);
            Records[partition]++;
            Bytes[partition] += record.Length;
        }

        /// <summary>Closes every file; an empty partition gets its (empty) file, so the join reads it like any other.</summary>
        public void Dispose()
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            for (var p = 0; p < _files.Length; p++)
            {
                if (_files[p] is { } file)
                {
                    file.Dispose();
                    _files[p] = null;
                }
                else
                {
                    File.WriteAllBytes(PathOf(p), []);
                }
            }
        }
    }

    /// <summary>Compares records by their key part only; looks them up by a key alone too.</summary>
    private sealed class RecordKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly RecordKeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && CompareRows.Key(x).SequenceEqual(CompareRows.Key(y));

        public int GetHashCode(byte[] obj) => Hash(CompareRows.Key(obj));

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(CompareRows.Key(other));

        public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

        public byte[] Create(ReadOnlySpan<byte> alternate) => throw new NotSupportedException("Records are added whole.");

        private static int Hash(ReadOnlySpan<byte> key)
        {
            var hash = new HashCode();
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }

    /// <summary>Key bytes, largest first: the queue's head is the largest key kept.</summary>
    private sealed class KeyOrder : IComparer<byte[]>
    {
        public static readonly KeyOrder Descending = new();

        public int Compare(byte[]? x, byte[]? y) => y.AsSpan().SequenceCompareTo(x);
    }
}
