using System.Buffers.Binary;
using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Logs;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>A push's key is null (merge) or named twice (any push with key items, or an append's key already stored); nothing was published.</summary>
public sealed class PushKeyException : Exception
{
    public PushKeyException(IReadOnlyList<ValueViolation> violations, int more)
        : base(string.Join(" ", violations.Select(v => v.Message)) + (more > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({more} more)") : ""))
    {
        Violations = violations;
        More = more;
    }

    public PushKeyException()
    {
        Violations = [];
    }

    public PushKeyException(string message)
        : base(message)
    {
        Violations = [];
    }

    public PushKeyException(string message, Exception inner)
        : base(message, inner)
    {
        Violations = [];
    }

    /// <summary>The first problems found, in push order.</summary>
    public IReadOnlyList<ValueViolation> Violations { get; }

    /// <summary>How many more were found than reported.</summary>
    public int More { get; }
}

/// <summary>Another push published a version while a merge was made on the one before it.</summary>
public sealed class DatasetMergeConflictException : Exception
{
    public DatasetMergeConflictException(string message)
        : base(message)
    {
    }

    public DatasetMergeConflictException()
    {
    }

    public DatasetMergeConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The changes of a merge push (<see cref="PushMode.Merge"/>, wire form in <see cref="MergeWire"/>),
/// collected from its batches: which keys it names, which rows are upserts. Keys and upsert values
/// are checked as the batches arrive, with the push's own batch and row numbers, before anything
/// is written. The push is held in memory (bounded by the push's byte cap): a merge carries changes,
/// a whole dataset goes as a replace.
/// </summary>
public sealed class MergeChanges
{
    private readonly Schema _schema;
    private readonly int[] _keyColumns;
    private readonly ItemValueValidator _values;
    private readonly Dictionary<string, (int Batch, int Row, bool Delete)> _keys = new(StringComparer.Ordinal);
    private readonly List<RecordBatch> _upserts = [];
    private readonly List<ValueViolation> _keyProblems = [];
    private readonly List<ValueViolation> _valueProblems = [];
    private int _batches;

    /// <param name="schema">The catalog's schema (<c>CatalogEntry.ArrowSchema()</c>): item ids and lengths in its metadata.</param>
    /// <param name="keyColumns">The indexes of the key items in <paramref name="schema"/>; at least one.</param>
    public MergeChanges(Schema schema, IReadOnlyList<int> keyColumns)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(keyColumns);
        if (keyColumns.Count == 0)
        {
            throw new ArgumentException("A merge needs at least one key item.", nameof(keyColumns));
        }

        _schema = schema;
        _keyColumns = [.. keyColumns];
        _values = ItemValueValidator.ForSchema(schema);
    }

    public Schema Schema => _schema;

    /// <summary>Rows of the push that are upserts.</summary>
    public long Upserts { get; private set; }

    /// <summary>Rows of the push that are deletes.</summary>
    public long Deletes { get; private set; }

    /// <summary>Rows of the push.</summary>
    public long Rows => Upserts + Deletes;

    /// <summary>Takes one pushed batch in the catalog's schema, with its delete flags when the push has the delete column.</summary>
    public void Add(RecordBatch batch, BooleanArray? deletes)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var index = _batches++;
        var keys = _keyColumns.Select(batch.Column).ToArray();
        var upsertRows = new List<int>(batch.Length);
        for (var row = 0; row < batch.Length; row++)
        {
            var delete = deletes is not null && deletes.GetValue(row) == true;
            if (!delete)
            {
                upsertRows.Add(row);
            }

            if (KeyOf(keys, row) is not { } key)
            {
                var c = System.Array.FindIndex(keys, k => k.IsNull(row));
                var field = _schema.GetFieldByIndex(_keyColumns[c]);
                _keyProblems.Add(new(ItemId(field), index, row, "key-null", 1, string.Create(CultureInfo.InvariantCulture, $"Key item '{field.Name}' ({ItemId(field)}), batch {index}, row {row}: null; every row of a merge names its key.")));
            }
            else if (!_keys.TryAdd(key, (index, row, delete)))
            {
                var first = _keys[key];
                _keyProblems.Add(new(string.Join("+", _keyColumns.Select(c => ItemId(_schema.GetFieldByIndex(c)))), index, row, "key-duplicate", 1,
                    string.Create(CultureInfo.InvariantCulture, $"Batch {index}, row {row}: the same key as batch {first.Batch}, row {first.Row}; a merge names each key once.")));
            }
        }

        Deletes += batch.Length - upsertRows.Count;
        Upserts += upsertRows.Count;
        if (upsertRows.Count == 0)
        {
            return;
        }

        var upserts = upsertRows.Count == batch.Length ? batch : Take(batch, upsertRows);
        foreach (var v in _values.Check(upserts, index))
        {
            // Reported by the row of the push, not of the upserts taken from it.
            var row = upsertRows[v.Row];
            _valueProblems.Add(v with { Row = row, Message = v.Message.Replace(string.Create(CultureInfo.InvariantCulture, $"row {v.Row}:"), string.Create(CultureInfo.InvariantCulture, $"row {row}:"), StringComparison.Ordinal) });
        }

        _upserts.Add(upserts);
    }

    /// <summary>Throws the push's key problems, else its value problems, if it has any.</summary>
    /// <exception cref="PushKeyException">A null key item or a key named twice.</exception>
    /// <exception cref="ArrowValueException">An upserted value breaks its item's rule.</exception>
    public void ThrowIfInvalid()
    {
        if (_keyProblems.Count > 0)
        {
            throw new PushKeyException([.. _keyProblems.Take(ItemValueValidator.MaxReported)], Math.Max(0, _keyProblems.Count - ItemValueValidator.MaxReported));
        }

        if (_valueProblems.Count > 0)
        {
            throw new ArrowValueException([.. _valueProblems.Take(ItemValueValidator.MaxReported)], Math.Max(0, _valueProblems.Count - ItemValueValidator.MaxReported));
        }
    }

    /// <summary>Whether the push names this key: null when not, true by a delete, false by an upsert.</summary>
    internal bool? Names(string key) => _keys.TryGetValue(key, out var named) ? named.Delete : null;

    internal IReadOnlyList<RecordBatch> UpsertBatches => _upserts;

    /// <summary>Every key the push names (hex of its key bytes) and whether by a delete.</summary>
    internal IEnumerable<(string Key, bool Delete)> NamedKeys => _keys.Select(k => (k.Key, k.Value.Delete));

    internal int[] KeyColumns => _keyColumns;

    /// <summary>
    /// The key of a row as text (hex of <see cref="WriteKey"/>'s bytes), so equal values give equal
    /// keys; null when a key item is null.
    /// </summary>
    internal static string? KeyOf(IArrowArray[] keys, int row)
    {
        Span<byte> buffer = stackalloc byte[256];
        int length;
        while ((length = WriteKey(keys, row, buffer)) < 0)
        {
            buffer = new byte[buffer.Length * 2];
        }

        return length == 0 ? null : Convert.ToHexString(buffer[..length]);
    }

    /// <summary>
    /// Writes a row's key bytes: each key item's value bytes as stored (text as UTF-8, numbers,
    /// dates and instants in their Arrow width, decimals at the catalog's scale), each prefixed by
    /// its length so ("ab","c") and ("a","bc") stay two keys. Returns the length written, 0 when a
    /// key item is null, −1 when <paramref name="buffer"/> is too small.
    /// </summary>
    internal static int WriteKey(IArrowArray[] keys, int row, Span<byte> buffer)
    {
        var written = 0;
        foreach (var array in keys)
        {
            if (array.IsNull(row))
            {
                return 0;
            }

            ReadOnlySpan<byte> bytes = array switch
            {
                BinaryArray binary => binary.GetBytes(row),
                FixedSizeBinaryArray fixedSize => fixedSize.GetBytes(row),
                BooleanArray boolean => boolean.GetValue(row) == true ? [1] : [0],
                _ when array.Data.DataType is FixedWidthType fixedWidth && fixedWidth.BitWidth % 8 == 0 =>
                    array.Data.Buffers[1].Span.Slice((array.Data.Offset + row) * (fixedWidth.BitWidth / 8), fixedWidth.BitWidth / 8),
                _ => throw new NotSupportedException($"A key item of type {array.Data.DataType.Name} cannot be compared."),
            };

            if (written + 4 + bytes.Length > buffer.Length)
            {
                return -1;
            }

            BinaryPrimitives.WriteInt32LittleEndian(buffer[written..], bytes.Length);
            bytes.CopyTo(buffer[(written + 4)..]);
            written += 4 + bytes.Length;
        }

        return written;
    }

    /// <summary>The given rows of a batch, in order, as one new batch.</summary>
    internal static RecordBatch Take(RecordBatch batch, IReadOnlyList<int> rows)
    {
        // Runs of consecutive rows become slices, joined per column.
        var runs = new List<(int Offset, int Length)>();
        for (var i = 0; i < rows.Count;)
        {
            var start = i;
            while (i + 1 < rows.Count && rows[i + 1] == rows[i] + 1)
            {
                i++;
            }

            runs.Add((rows[start], rows[i] - rows[start] + 1));
            i++;
        }

        var columns = new IArrowArray[batch.ColumnCount];
        for (var c = 0; c < columns.Length; c++)
        {
            var column = batch.Column(c);
            var slices = runs.Select(r => ArrowArrayFactory.Slice(column, r.Offset, r.Length)).ToList();
            columns[c] = slices.Count == 1 ? slices[0] : ArrowArrayConcatenator.Concatenate(slices);
        }

        return new RecordBatch(batch.Schema, columns, rows.Count);
    }

    private static string ItemId(Field field) =>
        field.Metadata is { } m && m.TryGetValue(Catalog.CatalogEntry.ItemIdMetadataKey, out var id) ? id : field.Name;
}

/// <summary>
/// Makes the next version of a resource from its latest version and a merge push: the latest
/// version's rows whose key the push does not name, in their order, then the push's upserts.
/// The version is written and published like any push (<c>DatasetStore.BeginPushAsync</c>):
/// a new immutable file, every value checked again by the store's write step, visible only when
/// committed; if another push published meanwhile, nothing is published
/// (<see cref="DatasetMergeConflictException"/>).
/// </summary>
/// <remarks>
/// <para>By segments (the usual way): the new version is the latest version's segment files, with
/// the rows the push names listed as deleted (<see cref="DeletedRows"/>, found through each
/// segment's <see cref="SegmentKeyIndex"/>), plus one new segment holding the upserts. A one-row
/// change writes one row and a small record, whatever the dataset's size.</para>
/// <para>Compacting (the whole dataset written again as one segment, as every merge did before):
/// when the latest version has no rows yet, or would then leave out more than a quarter of its
/// stored rows or more than <see cref="MaxDeletedRows"/> (kept in the version's record), or
/// hold <see cref="MaxSegments"/> segments — so reads never wade through mostly deleted rows or
/// many small files, and the record stays small.</para>
/// </remarks>
public static class MergePush
{
    /// <summary>Segments a version made by segments may have; the merge that would reach it compacts.</summary>
    public const int MaxSegments = 64;

    /// <summary>Deleted rows a version made by segments may list (8 bytes each in its record); beyond, the merge compacts.</summary>
    public const long MaxDeletedRows = 100_000;

    /// <summary>What a merge did.</summary>
    /// <param name="Version">The published version.</param>
    /// <param name="Replaced">Rows of the previous version whose key an upsert named.</param>
    /// <param name="Deleted">Rows of the previous version a delete removed.</param>
    public sealed record Outcome(DatasetVersion Version, long Replaced, long Deleted);

    /// <exception cref="DatasetSchemaMismatchException">The latest version was pushed under another item list.</exception>
    /// <exception cref="DatasetMergeConflictException">Another push published a version meanwhile.</exception>
    public static async Task<Outcome> PublishAsync(DatasetStore store, string resourceCode, MergeChanges changes, ExchangeId exchangeId, DateTimeOffset? dataUpdatedAt = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(changes);
        changes.ThrowIfInvalid();
        var latest = store.Latest(resourceCode);
        if (latest is { Rows: > 0 } && latest.Segments.Count < MaxSegments
            && await BySegmentsAsync(store, latest, changes, cancellationToken).ConfigureAwait(false) is { } bySegments)
        {
            await using var thin = await store.BeginPushAsync(resourceCode, PushMode.Merge, changes.Schema, exchangeId, basedOn: latest.Version, cancellationToken).ConfigureAwait(false);
            thin.KeptSegments = bySegments.Segments;
            foreach (var upserts in changes.UpsertBatches)
            {
                await thin.WriteAsync(upserts, cancellationToken).ConfigureAwait(false);
            }

            return new Outcome(await thin.CommitAsync(dataUpdatedAt, cancellationToken).ConfigureAwait(false), bySegments.Replaced, bySegments.Deleted);
        }

        return await CompactAsync(store, resourceCode, latest, changes, exchangeId, dataUpdatedAt, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The latest version's segments with the rows the push names added to their deleted rows,
    /// found by each segment's key index; null when the result should be compacted instead.
    /// </summary>
    private static async Task<(IReadOnlyList<DatasetSegment> Segments, long Replaced, long Deleted)?> BySegmentsAsync(DatasetStore store, DatasetVersion latest, MergeChanges changes, CancellationToken cancellationToken)
    {
        var named = changes.NamedKeys.Select(k => (Hash: SegmentKeyIndex.Hash(Convert.FromHexString(k.Key), store.KeySecret.Seed), k.Delete)).ToList();
        var segments = new List<DatasetSegment>(latest.Segments.Count);
        long replaced = 0, deleted = 0, stored = 0, left = 0;
        foreach (var segment in latest.Segments)
        {
            var index = await store.KeyIndexes.GetAsync(latest, segment, changes.KeyColumns, cancellationToken).ConfigureAwait(false);
            var removed = new List<long>();
            foreach (var (hash, delete) in named)
            {
                foreach (var position in index.Find(hash))
                {
                    if (segment.Deleted?.Contains(position) != true)
                    {
                        removed.Add(position);
                        _ = delete ? deleted++ : replaced++;
                    }
                }
            }

            var thinned = removed.Count == 0 ? segment : segment with { Deleted = DeletedRows.Union(segment.Deleted, removed) };
            stored += thinned.Rows;
            left += thinned.Deleted?.Count ?? 0;
            segments.Add(thinned);
        }

        // Upserts add stored rows too: the share left out is of everything the version's files hold.
        stored += changes.Upserts;
        return left > MaxDeletedRows || left * 4 > stored ? null : (segments, replaced, deleted);
    }

    /// <summary>The whole merged dataset written as one new segment (every merge's way before merges by segments).</summary>
    private static async Task<Outcome> CompactAsync(DatasetStore store, string resourceCode, DatasetVersion? latest, MergeChanges changes, ExchangeId exchangeId, DateTimeOffset? dataUpdatedAt, CancellationToken cancellationToken)
    {
        await using var push = await store.BeginPushAsync(resourceCode, PushMode.Merge, changes.Schema, exchangeId, basedOn: latest?.Version ?? 0, cancellationToken).ConfigureAwait(false);
        long replaced = 0, deleted = 0;
        if (latest is not null)
        {
            await using var reader = store.OpenRead(latest);
            var kept = new List<int>();
            await foreach (var stored in reader.ReadBatchesAsync(cancellationToken).ConfigureAwait(false))
            {
                using (stored)
                {
                    kept.Clear();
                    var keys = changes.KeyColumns.Select(stored.Column).ToArray();
                    for (var row = 0; row < stored.Length; row++)
                    {
                        if (MergeChanges.KeyOf(keys, row) is { } key && changes.Names(key) is { } delete)
                        {
                            _ = delete ? deleted++ : replaced++;
                        }
                        else
                        {
                            kept.Add(row);
                        }
                    }

                    // Same fingerprint as the push (checked when it began): the push's schema object spares a second fingerprint.
                    var batch = new RecordBatch(changes.Schema, Enumerable.Range(0, stored.ColumnCount).Select(stored.Column), stored.Length);
                    if (kept.Count == stored.Length)
                    {
                        await push.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                    }
                    else if (kept.Count > 0)
                    {
                        await push.WriteAsync(MergeChanges.Take(batch, kept), cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }

        foreach (var upserts in changes.UpsertBatches)
        {
            await push.WriteAsync(upserts, cancellationToken).ConfigureAwait(false);
        }

        var version = await push.CommitAsync(dataUpdatedAt, cancellationToken).ConfigureAwait(false);
        return new Outcome(version, replaced, deleted);
    }
}
