using System.Diagnostics;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// Where each key of one stored segment is: per row a 128-bit XxHash128 of its key bytes
/// (<see cref="MergeChanges.WriteKey"/>) and its position in the file, sorted by hash, so a
/// merge finds the rows its keys name, and an append whether its keys are already stored
/// (<see cref="PushKeys.AddStoredAsync"/>), by binary search instead of reading the dataset.
/// </summary>
/// <remarks>
/// Built by reading the segment once (through <see cref="DatasetReader"/>, so its SHA-256 is
/// checked: an altered file gives no index), or made from a push's own key hashes
/// (<see cref="PushKeys.PushedRowsIndex"/>); kept in memory by <see cref="SegmentKeyIndexes"/> and on
/// disk beside the segment (<see cref="SegmentKeyIndexFile"/>), so a restart need not read the
/// segment again. Segment files never change, so an index stays true for the file's life.
/// Hashes use the store folder's secret seed (<see cref="KeyIndexSecret"/>), so a sender cannot
/// aim two keys at one hash; two different keys share a hash with a probability of about
/// n·m/2¹²⁸ per merge (n stored rows, m named keys: 10⁻³¹ for a 2,000,000-row dataset and 1,000 keys).
/// </remarks>
internal sealed class SegmentKeyIndex
{
    private readonly UInt128[] _hashes;
    private readonly long[] _positions;

    private SegmentKeyIndex(UInt128[] hashes, long[] positions)
    {
        _hashes = hashes;
        _positions = positions;
    }

    /// <summary>An index from hashes sorted with their positions (equal hashes by position).</summary>
    internal static SegmentKeyIndex FromSorted(UInt128[] hashes, long[] positions) => new(hashes, positions);

    /// <summary>Rows indexed.</summary>
    public long Rows => _hashes.Length;

    /// <summary>The sorted hashes and their positions (for <see cref="SegmentKeyIndexFile"/>).</summary>
    internal (UInt128[] Hashes, long[] Positions) Entries => (_hashes, _positions);

    /// <summary>The hash a key's bytes are indexed under, with the store's seed (<see cref="KeyIndexSecret.Seed"/>).</summary>
    public static UInt128 Hash(ReadOnlySpan<byte> keyBytes, long seed) => XxHash128.HashToUInt128(keyBytes, seed);

    /// <summary>Reads the key items of every row of one segment (its own deletions ignored: positions are the file's).</summary>
    public static async Task<SegmentKeyIndex> BuildAsync(DatasetStore store, DatasetVersion version, DatasetSegment segment, int[] keyColumns, CancellationToken cancellationToken)
    {
        var hashes = new UInt128[checked((int)segment.Rows)];
        var positions = new long[hashes.Length];
        var alone = version with { Segments = [segment with { Deleted = null }] };
        var buffer = new byte[256];
        var seed = store.KeySecret.Seed;
        long position = 0;
        await using (var reader = store.OpenRead(alone))
        {
            await foreach (var batch in reader.ReadBatchesAsync(cancellationToken).ConfigureAwait(false))
            {
                using (batch)
                {
                    if (position + batch.Length > hashes.Length)
                    {
                        throw new InvalidDataException($"Segment {segment.File} holds more rows than its record says ({segment.Rows}).");
                    }

                    var keys = keyColumns.Select(batch.Column).ToArray();
                    for (var row = 0; row < batch.Length; row++, position++)
                    {
                        int length;
                        while ((length = MergeChanges.WriteKey(keys, row, buffer)) < 0)
                        {
                            buffer = new byte[buffer.Length * 2];
                        }

                        // A null key item (possible only in versions stored before keys were checked) names no row.
                        hashes[position] = length == 0 ? UInt128.MaxValue : Hash(buffer.AsSpan(0, length), seed);
                        positions[position] = length == 0 ? -1 : position;
                    }
                }
            }
        }

        if (position != hashes.Length)
        {
            throw new InvalidDataException($"Segment {segment.File} holds {position} rows; its record says {segment.Rows}.");
        }

        System.Array.Sort(hashes, positions);
        return new SegmentKeyIndex(hashes, positions);
    }

    /// <summary>The positions of the rows whose key bytes hash to <paramref name="hash"/> (several only in versions stored before keys were checked).</summary>
    public IEnumerable<long> Find(UInt128 hash)
    {
        var at = System.Array.BinarySearch(_hashes, hash);
        if (at < 0)
        {
            yield break;
        }

        while (at > 0 && _hashes[at - 1] == hash)
        {
            at--;
        }

        for (; at < _hashes.Length && _hashes[at] == hash; at++)
        {
            if (_positions[at] >= 0)
            {
                yield return _positions[at];
            }
        }
    }
}

/// <summary>
/// The key indexes of recently pushed, merged or appended-to segments, by file and key items. Bounded by rows (24
/// bytes each): over <see cref="MaxRows"/> the oldest are dropped, and an index of a segment
/// larger than the bound is used once and not kept in memory. Every index is also kept on disk
/// beside its segment (<see cref="SegmentKeyIndexFile"/>): one not in memory is read from there
/// when its file can be trusted, and built by reading the segment (and written) only when not.
/// </summary>
internal sealed class SegmentKeyIndexes(DatasetStore store, ILogger logger)
{
    /// <summary>Rows of all kept indexes together: 4,000,000 rows, about 100 MB.</summary>
    public const long MaxRows = 4_000_000;

    private readonly Dictionary<(string File, string? Content, string Keys), SegmentKeyIndex> _kept = [];
    private readonly LinkedList<(string File, string? Content, string Keys)> _order = new();
    private readonly Lock _lock = new();
    private long _rows;

    /// <summary>What pins a segment's bytes: its block list, or for a segment stored without one, the file's SHA-256.</summary>
    private static string? ContentOf(DatasetSegment segment) => segment.Blocks ?? segment.Sha256;

    /// <summary>
    /// Keeps the index of a segment just written, made from the push's own key hashes
    /// (<see cref="PushKeys.PushedRowsIndex"/>), in memory and on disk. Call after the version is
    /// published: a failure to write the file is logged, never the push's (the file is derived data).
    /// </summary>
    public async Task KeepAsync(DatasetSegment segment, int[] keyColumns, SegmentKeyIndex index, CancellationToken cancellationToken)
    {
        Remember(segment, keyColumns, index);
        await PersistAsync(segment, keyColumns, index, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The index of <paramref name="segment"/> of <paramref name="version"/> for these key columns: from memory, its file, or read once.</summary>
    public async Task<SegmentKeyIndex> GetAsync(DatasetVersion version, DatasetSegment segment, int[] keyColumns, CancellationToken cancellationToken)
    {
        var key = (segment.File, ContentOf(segment), string.Join(',', keyColumns));
        lock (_lock)
        {
            if (_kept.TryGetValue(key, out var index))
            {
                _order.Remove(key);
                _order.AddLast(key);
                return index;
            }
        }

        // Loaded or built outside the lock: a large segment takes a while, and merges of other resources need not wait.
        var started = Stopwatch.GetTimestamp();
        var why = "its segment was stored before checksums were recorded";
        if (SegmentKeyIndexFile.CanKeep(segment))
        {
            SegmentKeyIndex? loaded;
            try
            {
                (loaded, why) = await SegmentKeyIndexFile.TryReadAsync(store.Folder, segment, keyColumns, store.KeySecret, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                (loaded, why) = (null, "index file unreadable: " + ex.GetType().Name);
            }

            if (loaded is not null)
            {
                var loadMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                DatasetDiagnostics.KeyIndexLoaded(logger, segment.File, loaded.Rows, loadMs);
                Remember(segment, keyColumns, loaded);
                return loaded;
            }
        }

        var built = await SegmentKeyIndex.BuildAsync(store, version, segment, keyColumns, cancellationToken).ConfigureAwait(false);
        var buildMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        DatasetDiagnostics.KeyIndexBuilt(logger, segment.File, built.Rows, buildMs, why);
        Remember(segment, keyColumns, built);
        await PersistAsync(segment, keyColumns, built, cancellationToken).ConfigureAwait(false);
        return built;
    }

    private void Remember(DatasetSegment segment, int[] keyColumns, SegmentKeyIndex index)
    {
        var key = (segment.File, ContentOf(segment), string.Join(',', keyColumns));
        if (index.Rows > MaxRows)
        {
            return;
        }

        lock (_lock)
        {
            if (_kept.TryAdd(key, index))
            {
                _order.AddLast(key);
                _rows += index.Rows;
                while (_rows > MaxRows && _order.First is { } oldest)
                {
                    _rows -= _kept[oldest.Value].Rows;
                    _kept.Remove(oldest.Value);
                    _order.RemoveFirst();
                }
            }
        }
    }

    private async Task PersistAsync(DatasetSegment segment, int[] keyColumns, SegmentKeyIndex index, CancellationToken cancellationToken)
    {
        if (!SegmentKeyIndexFile.CanKeep(segment))
        {
            return;
        }

        try
        {
            await SegmentKeyIndexFile.WriteAsync(store.Folder, segment, keyColumns, index, store.KeySecret, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Derived data: without the file the next restart builds the index again, nothing worse.
            DatasetDiagnostics.KeyIndexWriteFailed(logger, segment.File, ex);
        }
    }
}
