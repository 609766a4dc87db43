using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using GovShare.Contract;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using LiteDB;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>Settings of the dataset store.</summary>
public sealed record DatasetStoreOptions
{
    /// <summary>Versions kept per resource; older ones are removed when a newer one is published.</summary>
    public int KeepVersions { get; init; } = 5;

    /// <summary>The sub-folder of the data folder holding segment files (an absolute path: a folder elsewhere, e.g. shared by replicas).</summary>
    public string FolderName { get; init; } = "datasets";

    /// <summary>
    /// Null (one process owns the folder): every leftover of an interrupted push is removed at start.
    /// Set (a folder several replicas share): only leftovers untouched this long — a push in
    /// progress on another replica writes its file all the time (a stalled body is cut by
    /// Node:MinRequestBodyBytesPerSecond) and records its renamed file within moments.
    /// </summary>
    public TimeSpan? StrayAge { get; init; }

    /// <summary>
    /// Caps when reading stored segments back. Re-writing a batch may pad its body slightly, so
    /// the default body cap is twice a push's.
    /// </summary>
    public ArrowInputLimits ReadLimits { get; init; } = ArrowInputLimits.Default with { MaxBodyBytes = 2 * ArrowInputLimits.Default.MaxBodyBytes };

    /// <summary>
    /// The least bytes of a segment hashed as one block (<see cref="SegmentBlocks"/>): a block ends
    /// at the first batch end at or after this many bytes, and at the file's end. A pull holds one
    /// block's batches until the block is verified, so this bounds that memory; each block costs
    /// 40 bytes in the version's record (20 KB a GB at 2 MiB). Smaller than a typical batch
    /// (65,536 rows, several MB), so each batch is verified on its own and reading the next one
    /// overlaps writing this one.
    /// </summary>
    public int BlockBytes { get; init; } = 2 << 20;
}

/// <summary>One immutable Arrow IPC stream file of a version.</summary>
/// <param name="File">File name inside the store folder.</param>
/// <param name="Rows">Rows in the file.</param>
/// <param name="Bytes">Size of the file.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file as the node wrote it, for segments stored by earlier nodes; null for segments written before checksums were recorded, and for segments written now: their <paramref name="Blocks"/> hash every byte once.</param>
/// <param name="Blocks">
/// The file's blocks as the node wrote them (<see cref="SegmentBlocks"/>, base64): each block's end
/// and SHA-256, so a pull verifies every batch before it is used. Null for segments written before
/// blocks were recorded: those are read with full structural validation and <paramref name="Sha256"/>.
/// </param>
/// <param name="Deleted">Rows of the file this version does not hold (replaced or deleted by a merge push); null when it holds them all.</param>
public sealed record DatasetSegment(string File, long Rows, long Bytes, string? Sha256 = null, string? Blocks = null, DeletedRows? Deleted = null)
{
    /// <summary>Rows of the file this version holds.</summary>
    public long LiveRows => Rows - (Deleted?.Count ?? 0);
}

/// <summary>A published version of a resource's dataset, as recorded in LiteDB.</summary>
public sealed record DatasetVersion(
    string ResourceCode,
    int Version,
    long Rows,
    long Bytes,
    string SchemaFingerprint,
    DateTimeOffset PushedAt,
    DateTimeOffset DataUpdatedAt,
    string ExchangeId,
    PushMode Mode,
    IReadOnlyList<DatasetSegment> Segments)
{
    // A version is a value: equal versions have equal segment lists, not the same list object.
    public bool Equals(DatasetVersion? other) =>
        other is not null
        && ResourceCode == other.ResourceCode
        && Version == other.Version
        && Rows == other.Rows
        && Bytes == other.Bytes
        && SchemaFingerprint == other.SchemaFingerprint
        && PushedAt == other.PushedAt
        && DataUpdatedAt == other.DataUpdatedAt
        && ExchangeId == other.ExchangeId
        && Mode == other.Mode
        && Segments.SequenceEqual(other.Segments);

    public override int GetHashCode() => HashCode.Combine(ResourceCode, Version, ExchangeId);
}

/// <summary>An append's schema differs from the previous version's.</summary>
public sealed class DatasetSchemaMismatchException : Exception
{
    public DatasetSchemaMismatchException(string message)
        : base(message)
    {
    }

    public DatasetSchemaMismatchException()
    {
    }

    public DatasetSchemaMismatchException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// Dataset versions of resources: Arrow IPC stream files beside the LiteDB file, version
/// metadata in LiteDB. A version becomes visible only when its metadata record is committed,
/// which happens after its file was fsynced and renamed into place; see <c>Exchange/README.md</c>.
/// </summary>
public sealed class DatasetStore : IDisposable
{
    internal const string SegmentExtension = ".arrows";
    internal const string TempExtension = ".arrows.tmp";
    private const string CollectionName = "dataset_versions";

    private readonly IStateDocuments<VersionDocument> _versions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _commitLock = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<DatasetVersion>> _snapshots = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, int, string), Schema> _schemas = new();
    private readonly Lazy<KeyIndexSecret> _keySecret;
    private long _generation;

    // Version lists are cached only while this process is the one writer of them (LiteDB). On a
    // shared backend another replica publishes without telling this cache, so every read goes to
    // the committed records: a pull never serves a version list older than the database's.
    private readonly bool _cacheVersions;

    public DatasetStore(NodeDataFolder dataFolder, DatasetStoreOptions? options = null, TimeProvider? time = null, ILogger<DatasetStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataFolder);
        Options = options ?? new DatasetStoreOptions();
        if (Options.KeepVersions < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "KeepVersions must be at least 1.");
        }

        Folder = dataFolder.SubFolder(Options.FolderName);
        _versions = dataFolder.Collection<VersionDocument>(CollectionName, d => d.Resource);
        _cacheVersions = dataFolder.State.ReplaysChangeLog;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<DatasetStore>.Instance;
        // Not caching a failure (a full disk at first use): the next push tries again.
        _keySecret = new(() => KeyIndexSecret.LoadOrCreate(Folder), LazyThreadSafetyMode.PublicationOnly);
        KeyIndexes = new SegmentKeyIndexes(this, _logger);
    }

    /// <summary>The settings in force.</summary>
    public DatasetStoreOptions Options { get; }

    /// <summary>The folder of segment files.</summary>
    public string Folder { get; }

    /// <summary>
    /// Removes what interrupted pushes left: temporary files, and segment files no version
    /// references (renamed but never recorded), with their key index files. Call once at start, before serving.
    /// </summary>
    /// <returns>The number of files removed.</returns>
    public int RemoveStrayFiles()
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var doc in _versions.All())
        {
            foreach (var segment in ToVersion(doc).Segments)
            {
                referenced.Add(segment.File);
            }
        }

        var removed = 0;
        foreach (var path in Directory.EnumerateFiles(Folder))
        {
            var name = Path.GetFileName(path);
            var stray = (name.EndsWith(TempExtension, StringComparison.Ordinal)
                || name.EndsWith(SegmentKeyIndexFile.TempExtension, StringComparison.Ordinal)
                || (name.EndsWith(SegmentExtension, StringComparison.Ordinal) && !referenced.Contains(name))
                || (SegmentKeyIndexFile.IsIndexFile(name, out var indexed) && !referenced.Contains(indexed)))
                && (Options.StrayAge is not { } age || File.GetLastWriteTimeUtc(path) < _time.GetUtcNow().UtcDateTime - age);
            if (stray && TryDelete(path))
            {
                removed++;
            }
        }

        if (removed > 0)
        {
            DatasetDiagnostics.StrayFilesRemoved(_logger, removed);
        }

        return removed;
    }

    /// <summary>The newest published version of a resource, or null.</summary>
    public DatasetVersion? Latest(string resourceCode) =>
        Versions(resourceCode) is { Count: > 0 } all ? all[^1] : null;

    /// <summary>One published version, or null when it does not exist (any more).</summary>
    public DatasetVersion? Find(string resourceCode, int version)
    {
        var doc = _versions.Find(DocumentId(resourceCode, version));
        return doc is null ? null : ToVersion(doc);
    }

    /// <summary>The published versions of a resource, oldest first.</summary>
    /// <remarks>
    /// Every pull asks for the latest version, so the list is an immutable snapshot kept per
    /// resource, read from LiteDB once and dropped whenever a version is published or pruned
    /// (both happen in this class, under <c>_commitLock</c>): no LiteDB query on a pull's path.
    /// On PostgreSQL (several replicas) the list is read from the committed records every time.
    /// </remarks>
    public IReadOnlyList<DatasetVersion> Versions(string resourceCode)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resourceCode);
        if (_cacheVersions && _snapshots.TryGetValue(resourceCode, out var snapshot))
        {
            return snapshot;
        }

        var generation = Volatile.Read(ref _generation);
        IReadOnlyList<DatasetVersion> read = [.. _versions.Where(d => d.Resource, resourceCode).Select(ToVersion).OrderBy(v => v.Version)];
        if (!_cacheVersions)
        {
            return read;
        }

        // Kept only if nothing was published or pruned while we read, so a stale list never sticks.
        lock (_snapshots)
        {
            if (Volatile.Read(ref _generation) == generation)
            {
                _snapshots[resourceCode] = read;
            }
        }

        return read;
    }

    /// <summary>Forgets a resource's snapshot after a change to its versions.</summary>
    private void Changed(string resourceCode)
    {
        lock (_snapshots)
        {
            Interlocked.Increment(ref _generation);
            _snapshots.TryRemove(resourceCode, out _);
        }
    }

    /// <summary>
    /// A version's schema, read from its first segment once: stored files never change (a
    /// changed file is a damaged one, found by its checksum when its batches are read).
    /// </summary>
    internal async Task<Schema> SchemaOfAsync(DatasetVersion version, Func<Task<Schema>> read)
    {
        var key = (version.ResourceCode, version.Version, version.ExchangeId);
        if (_schemas.TryGetValue(key, out var schema))
        {
            return schema;
        }

        schema = await read().ConfigureAwait(false);
        if (_schemas.Count >= 4096)
        {
            _schemas.Clear(); // a bound, not a policy: schemas are small and re-read cheaply
        }

        _schemas[key] = schema;
        return schema;
    }

    /// <summary>
    /// Starts a push of <paramref name="schema"/> for a resource. Nothing is visible until
    /// <see cref="DatasetPush.CommitAsync"/>; disposing an uncommitted push removes its file.
    /// </summary>
    /// <exception cref="DatasetSchemaMismatchException">An append or merge whose schema differs from the latest version's.</exception>
    public Task<DatasetPush> BeginPushAsync(string resourceCode, PushMode mode, Schema schema, ExchangeId exchangeId, CancellationToken cancellationToken = default) =>
        BeginPushAsync(resourceCode, mode, schema, exchangeId, basedOn: null, cancellationToken);

    /// <summary>
    /// As above, for a push made from a version (a merge, <see cref="MergePush"/>):
    /// <paramref name="basedOn"/> is that version's number, 0 for none; the commit publishes only
    /// if it is still the latest (else <see cref="DatasetMergeConflictException"/>).
    /// </summary>
    public async Task<DatasetPush> BeginPushAsync(string resourceCode, PushMode mode, Schema schema, ExchangeId exchangeId, int? basedOn, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resourceCode);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(exchangeId);
        var fingerprint = SchemaFingerprint.Of(schema);
        if (mode is PushMode.Append or PushMode.Merge)
        {
            CheckAppendable(resourceCode, fingerprint);
        }

        var temp = Path.Combine(Folder, exchangeId.Value + TempExtension);
        var file = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            // Unbuffered: SegmentFileWriter's 1 MiB chunk is the buffer, and it writes at explicit
            // offsets in large writes (as the raw-upload baseline writes).
            BufferSize = 0,
        });
        SegmentFileWriter? output = null;
        try
        {
            output = new SegmentFileWriter(file, Options.BlockBytes);
            var writer = new ArrowStreamWriter(output, schema, leaveOpen: true);
            await writer.WriteStartAsync(cancellationToken).ConfigureAwait(false);
            return new DatasetPush(this, resourceCode, mode, schema, fingerprint, exchangeId, temp, file, output, writer) { BasedOn = basedOn };
        }
        catch
        {
            if (output is not null)
            {
                await output.DisposeAsync().ConfigureAwait(false);
            }

            await file.DisposeAsync().ConfigureAwait(false);
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Opens a published version for reading. Its files stay readable until the reader is disposed.</summary>
    /// <exception cref="FileNotFoundException">The version was pruned meanwhile.</exception>
    public DatasetReader OpenRead(DatasetVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        var streams = new List<FileStream>(version.Segments.Count);
        try
        {
            // All files are opened up front: once open, pruning cannot take them away mid-pull.
            foreach (var segment in version.Segments)
            {
                streams.Add(new FileStream(Path.Combine(Folder, segment.File), new FileStreamOptions
                {
                    Mode = FileMode.Open,
                    Access = FileAccess.Read,
                    Share = FileShare.Read | FileShare.Delete,
                    // Synchronous handle: HashingReadStream reads it synchronously (see there).
                    Options = FileOptions.SequentialScan,
                    BufferSize = 1 << 16,
                }));
            }
        }
        catch
        {
            foreach (var stream in streams)
            {
                stream.Dispose();
            }

            throw;
        }

        return new DatasetReader(this, version, streams, Options.ReadLimits);
    }

    public void Dispose() => _commitLock.Dispose();

    /// <summary>Key indexes of stored segments, for merge pushes (<see cref="MergePush"/>) and appends (<see cref="PushKeys"/>).</summary>
    internal SegmentKeyIndexes KeyIndexes { get; }

    /// <summary>The store folder's key hash seed and index file key, made on first use (<see cref="KeyIndexSecret"/>).</summary>
    internal KeyIndexSecret KeySecret => _keySecret.Value;

    internal async Task<DatasetVersion> PublishAsync(DatasetPush push, DatasetSegment segment, DateTimeOffset? dataUpdatedAt, CancellationToken cancellationToken)
    {
        await _commitLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The rename is atomic and after the fsync; the insert below is the publication.
            // A crash between them leaves an unreferenced segment, removed at the next start.
            var final = Path.Combine(Folder, segment.File);
            File.Move(push.TempPath, final);
            DatasetVersion version;
            try
            {
                // The version number is the key: when several replicas share the version records
                // (State:Backend=postgresql), two may pick the same number for one resource. The
                // insert that loses adds nothing, and this push is published again on top of the
                // winner (an append then carries the winner's segments too): never interleaved,
                // never half-visible, never lost.
                var attempt = 0;
                while (true)
                {
                    version = NextVersion(push, segment, dataUpdatedAt);
                    if (_versions.Add(ToDocument(version)))
                    {
                        break;
                    }

                    Changed(push.ResourceCode); // another replica's version: read the list afresh

                    if (++attempt == 100)
                    {
                        throw new IOException($"Resource {version.ResourceCode}: 100 other versions were published while this one was; push again.");
                    }
                }
            }
            catch
            {
                TryDelete(final);
                throw;
            }

            Changed(push.ResourceCode);

            DatasetDiagnostics.VersionPublished(_logger, version.ResourceCode, version.Version, version.Mode, version.Rows, version.Bytes, version.ExchangeId);
            Prune(push.ResourceCode);
            return version;
        }
        finally
        {
            _commitLock.Release();
        }
    }

    internal void Abandon(DatasetPush push)
    {
        TryDelete(push.TempPath);
        DatasetDiagnostics.PushAborted(_logger, push.ResourceCode, push.ExchangeId.Value);
    }

    private DatasetVersion NextVersion(DatasetPush push, DatasetSegment segment, DateTimeOffset? dataUpdatedAt)
    {
        var latest = Latest(push.ResourceCode);
        IReadOnlyList<DatasetSegment> segments = [segment];
        if (push.BasedOn is { } basedOn && (latest?.Version ?? 0) != basedOn)
        {
            // Checked here, under the lock and again on each retry: a merge is made from one
            // version, so another replica's version published meanwhile voids it.
            throw new DatasetMergeConflictException($"Resource {push.ResourceCode}: version {latest?.Version} was published while this push was made from version {basedOn}; nothing was published.");
        }

        if (push.KeptSegments is { } kept)
        {
            // A merge made by segments: the version it was made from (checked above) with the rows
            // it replaced or deleted listed, plus its upserts.
            segments = [.. kept, segment];
        }
        else if (push.Mode == PushMode.Append && latest is not null)
        {
            // Checked again under the lock: a replace with another schema may have landed meanwhile.
            CheckAppendable(push.ResourceCode, push.Fingerprint);
            segments = [.. latest.Segments, segment];
        }

        var now = _time.GetUtcNow();
        return new DatasetVersion(
            push.ResourceCode,
            (latest?.Version ?? 0) + 1,
            segments.Sum(s => s.LiveRows),
            segments.Sum(s => s.Bytes),
            push.Fingerprint,
            now,
            dataUpdatedAt ?? now,
            push.ExchangeId.Value,
            push.Mode,
            segments);
    }

    private void CheckAppendable(string resourceCode, string fingerprint)
    {
        if (Latest(resourceCode) is { } latest && latest.SchemaFingerprint != fingerprint)
        {
            throw new DatasetSchemaMismatchException($"Resource {resourceCode}: an append must have the schema of version {latest.Version}.");
        }
    }

    private void Prune(string resourceCode)
    {
        var all = Versions(resourceCode);
        if (all.Count <= Options.KeepVersions)
        {
            return;
        }

        var removed = all.Take(all.Count - Options.KeepVersions).ToList();
        var kept = all.Skip(removed.Count).SelectMany(v => v.Segments).Select(s => s.File).ToHashSet(StringComparer.Ordinal);
        foreach (var version in removed)
        {
            _versions.Delete(DocumentId(resourceCode, version.Version));
        }

        Changed(resourceCode);

        foreach (var file in removed.SelectMany(v => v.Segments).Select(s => s.File).Distinct().Where(f => !kept.Contains(f)))
        {
            TryDelete(Path.Combine(Folder, file));
            var index = Path.Combine(Folder, file + SegmentKeyIndexFile.Extension);
            if (File.Exists(index))
            {
                TryDelete(index);
            }
        }

        DatasetDiagnostics.VersionsPruned(_logger, resourceCode, removed.Count, Options.KeepVersions);
    }

    private bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DatasetDiagnostics.FileDeleteFailed(_logger, Path.GetFileName(path), ex);
            return false;
        }
    }

    private static string DocumentId(string resourceCode, int version) =>
        FormattableString.Invariant($"{resourceCode}#{version:D10}");

    private static VersionDocument ToDocument(DatasetVersion v) => new()
    {
        Id = DocumentId(v.ResourceCode, v.Version),
        Resource = v.ResourceCode,
        Version = v.Version,
        Rows = v.Rows,
        Bytes = v.Bytes,
        Fingerprint = v.SchemaFingerprint,
        PushedAt = v.PushedAt.ToUnixTimeMilliseconds(),
        DataUpdatedAt = v.DataUpdatedAt.ToUnixTimeMilliseconds(),
        ExchangeId = v.ExchangeId,
        Mode = v.Mode.ToString(),
        Segments = [.. v.Segments.Select(s => new SegmentDocument { File = s.File, Rows = s.Rows, Bytes = s.Bytes, Sha256 = s.Sha256, Blocks = s.Blocks, Deleted = s.Deleted?.ToBytes() })],
    };

    private static DatasetVersion ToVersion(VersionDocument d) => new(
        d.Resource,
        d.Version,
        d.Rows,
        d.Bytes,
        d.Fingerprint,
        DateTimeOffset.FromUnixTimeMilliseconds(d.PushedAt),
        DateTimeOffset.FromUnixTimeMilliseconds(d.DataUpdatedAt),
        d.ExchangeId,
        Enum.Parse<PushMode>(d.Mode),
        [.. d.Segments.Select(s => new DatasetSegment(s.File, s.Rows, s.Bytes, s.Sha256, s.Blocks, DeletedRows.FromBytes(s.Deleted, s.Rows)))]);

    /// <summary>A version record as stored; the field names are those LiteDB data folders already hold.</summary>
    internal sealed class VersionDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        [BsonField("resource")]
        public string Resource { get; set; } = "";

        [BsonField("version")]
        public int Version { get; set; }

        [BsonField("rows")]
        public long Rows { get; set; }

        [BsonField("bytes")]
        public long Bytes { get; set; }

        [BsonField("fingerprint")]
        public string Fingerprint { get; set; } = "";

        [BsonField("pushedAt")]
        public long PushedAt { get; set; }

        [BsonField("dataUpdatedAt")]
        public long DataUpdatedAt { get; set; }

        [BsonField("exchangeId")]
        public string ExchangeId { get; set; } = "";

        [BsonField("mode")]
        public string Mode { get; set; } = "";

        [BsonField("segments")]
        public List<SegmentDocument> Segments { get; set; } = [];
    }

    internal sealed class SegmentDocument
    {
        [BsonField("file")]
        public string File { get; set; } = "";

        [BsonField("rows")]
        public long Rows { get; set; }

        [BsonField("bytes")]
        public long Bytes { get; set; }

        [BsonField("sha256")]
        public string? Sha256 { get; set; }

        [BsonField("blocks")]
        public string? Blocks { get; set; }

        /// <summary>Positions of the file's rows the version does not hold, 8 little-endian bytes each (<see cref="DeletedRows"/>); absent in records from before merges by segments.</summary>
        [BsonField("deleted")]
        public byte[]? Deleted { get; set; }
    }
}

/// <summary>
/// A push being written: batches go to a temporary file; <see cref="CommitAsync"/> fsyncs,
/// renames and records the version; disposing without commit removes the file.
/// Every batch is checked against its items' value rules and written in canonical form
/// (<see cref="ItemValueValidator"/>, <see cref="ArrowCanonicalForm"/>), whatever push mode
/// produced it: what is stored, every pull can deliver.
/// </summary>
public sealed class DatasetPush : IAsyncDisposable
{
    private readonly DatasetStore _store;
    private readonly FileStream _file;
    private readonly SegmentFileWriter _output;
    private readonly ArrowStreamWriter _writer;
    private readonly ItemValueValidator _values;
    private bool _done;

    internal DatasetPush(DatasetStore store, string resourceCode, PushMode mode, Schema schema, string fingerprint, ExchangeId exchangeId, string tempPath, FileStream file, SegmentFileWriter output, ArrowStreamWriter writer)
    {
        _store = store;
        _output = output;
        _values = ItemValueValidator.ForSchema(schema);
        ResourceCode = resourceCode;
        Mode = mode;
        Schema = schema;
        Fingerprint = fingerprint;
        ExchangeId = exchangeId;
        TempPath = tempPath;
        _file = file;
        _writer = writer;
    }

    public string ResourceCode { get; }

    public PushMode Mode { get; }

    public Schema Schema { get; }

    public ExchangeId ExchangeId { get; }

    /// <summary>Rows written so far.</summary>
    public long Rows { get; private set; }

    /// <summary>Record batches written so far (empty ones included).</summary>
    public int Batches { get; private set; }

    internal string Fingerprint { get; }

    internal string TempPath { get; }

    /// <summary>The version this push was made from (a merge), checked at commit; null when it stands alone.</summary>
    internal int? BasedOn { get; init; }

    /// <summary>A merge by segments: the segments of <see cref="BasedOn"/> with the rows it removes, published before this push's own.</summary>
    internal IReadOnlyList<DatasetSegment>? KeptSegments { get; set; }

    /// <summary>Appends a framing-validated batch of the push's schema, after checking its values.</summary>
    /// <exception cref="ArrowValueException">A value breaks its item's rule; nothing of the batch is written.</exception>
    public async Task WriteAsync(RecordBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_done, this);
        if (!ReferenceEquals(batch.Schema, Schema) && SchemaFingerprint.Of(batch.Schema) != Fingerprint)
        {
            throw new ArgumentException("The batch's schema is not the push's schema.", nameof(batch));
        }

        _values.Validate(batch, Batches);
        await _writer.WriteRecordBatchAsync(ArrowCanonicalForm.Canonicalise(batch), cancellationToken).ConfigureAwait(false);
        // The writer has handed every byte of the batch's message to the output (it does not
        // buffer), so a block may end here: blocks end only at batch ends.
        _output.BatchWritten();
        Rows += batch.Length;
        Batches++;
    }

    /// <summary>
    /// Ends the file, makes it durable and publishes the version. <paramref name="dataUpdatedAt"/>
    /// is when the provider last produced or changed the data (Art. 16); the push time when null.
    /// </summary>
    public async Task<DatasetVersion> CommitAsync(DateTimeOffset? dataUpdatedAt = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        await _writer.WriteEndAsync(cancellationToken).ConfigureAwait(false);
        _writer.Dispose();
        var blocks = await _output.FinishAsync(cancellationToken).ConfigureAwait(false);
        await _output.DisposeAsync().ConfigureAwait(false);
        _file.Flush(flushToDisk: true);
        var bytes = _file.Length;
        await _file.DisposeAsync().ConfigureAwait(false);
        _done = true;
        try
        {
            // No SHA-256 of the whole file: the blocks hash every byte of it once (SegmentFileWriter).
            var segment = new DatasetSegment(ExchangeId.Value + DatasetStore.SegmentExtension, Rows, bytes, Sha256: null, blocks);
            return await _store.PublishAsync(this, segment, dataUpdatedAt, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _store.Abandon(this);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_done)
        {
            return;
        }

        _done = true;
        _writer.Dispose();
        try
        {
            // Drops what waits in the writer's chunk (nothing is in flight: it writes on the
            // caller's thread), then closes the file.
            await _output.DisposeAsync().ConfigureAwait(false);
            await _file.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            // Always: the temporary file must go, or a failed push keeps its space.
            _store.Abandon(this);
        }
    }
}

/// <summary>
/// Reads a stored segment and hashes every byte taken from it; <see cref="FinishAsync"/> hashes
/// whatever the reader left unread (nothing, for a file the node wrote) and returns the SHA-256.
/// </summary>
internal sealed class HashingReadStream(Stream inner, bool enabled) : Stream
{
    private readonly System.Security.Cryptography.IncrementalHash? _hash = enabled ? System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256) : null;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public async Task<string> FinishAsync(CancellationToken cancellationToken)
    {
        var rest = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (await ReadAsync(rest.AsMemory(), cancellationToken).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rest);
        }

        return Convert.ToHexStringLower(_hash!.GetHashAndReset());
    }

    /// <summary>Whether what was read since the last call (or the start) hashes to <paramref name="expected"/>.</summary>
    public bool BlockMatches(ReadOnlySpan<byte> expected)
    {
        Span<byte> actual = stackalloc byte[SegmentBlocks.HashBytes];
        _hash!.GetHashAndReset(actual);
        return actual.SequenceEqual(expected);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        _hash?.AppendData(buffer[..read]);
        return read;
    }

    /// <summary>
    /// Reads synchronously: on Linux an asynchronous file read is a hop to the thread pool and
    /// back, which for a one-row pull's few small reads cost more than the reads (profiled). A
    /// stored file is read from the page cache or a local disk, and a large pull reads on the
    /// pipeline's own stage (<see cref="Pull.ProjectionPipeline"/>), so blocking briefly is cheap.
    /// </summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash?.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A published version read as one stream of batches, segment after segment, each batch
/// validated as it is read (stored files are read with the same guard as pushes).
/// </summary>
public sealed class DatasetReader : IAsyncDisposable
{
    private readonly DatasetStore _store;
    private readonly IReadOnlyList<FileStream> _segments;
    private readonly ArrowInputLimits _limits;

    internal DatasetReader(DatasetStore store, DatasetVersion version, IReadOnlyList<FileStream> segments, ArrowInputLimits limits)
    {
        _store = store;
        Version = version;
        _segments = segments;
        _limits = limits;
    }

    public DatasetVersion Version { get; }

    /// <summary>The version's schema, read from its first segment.</summary>
    public Task<Schema> ReadSchemaAsync(CancellationToken cancellationToken = default) =>
        _store.SchemaOfAsync(Version, () => ReadFirstSchemaAsync(cancellationToken));

    private async Task<Schema> ReadFirstSchemaAsync(CancellationToken cancellationToken)
    {
        var first = _segments[0];
        var position = first.Position;
        first.Position = 0;
        await using var unhashed = new HashingReadStream(first, enabled: false);
        await using var reader = await SafeArrowReader.OpenAsync(unhashed, _limits with { RequireEndOfStreamMarker = false }, first.Length, cancellationToken).ConfigureAwait(false);
        first.Position = position;
        return reader.Schema;
    }

    /// <summary>Every batch of the version in order; each is disposed by the caller.</summary>
    /// <remarks>
    /// A segment the node wrote with its blocks (<see cref="SegmentBlocks"/>) is hashed as it is
    /// read, block by block, and a block's batches are handed out only once the block's bytes
    /// hash to what the node recorded when it wrote them: a file altered behind the node's back
    /// (even into other valid Arrow) is refused before any altered batch is used, and the pull is
    /// cut and logged as unreadable. Those batches are the node's own bytes, written from batches
    /// it had validated, so they are not validated structurally again (UTF-8, offsets); their
    /// framing still is, before the reader builds them. A segment stored without blocks (written
    /// before they were recorded) is read as before: every batch validated structurally
    /// (<see cref="SafeArrowReader"/>) before anything reads its values, and the file's SHA-256,
    /// when recorded, compared when the segment ends — before the caller can write the stream's end.
    /// </remarks>
    /// <exception cref="ArrowInputException">A stored file is damaged or altered.</exception>
    public IAsyncEnumerable<RecordBatch> ReadBatchesAsync(CancellationToken cancellationToken = default) =>
        ReadBatchesAsync(recycleBodies: false, cancellationToken);

    /// <summary>
    /// As <see cref="ReadBatchesAsync(CancellationToken)"/>; with <paramref name="recycleBodies"/>,
    /// a disposed batch's memory is reused for a later batch of this read or of another pull
    /// (<see cref="BatchBodyPool"/>) — only for a caller that never touches a batch (nor
    /// an array of it) after disposing it, such as a pull.
    /// </summary>
    public async IAsyncEnumerable<RecordBatch> ReadBatchesAsync(bool recycleBodies, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var s = 0; s < _segments.Count; s++)
        {
            var segment = _segments[s];
            var stored = s < Version.Segments.Count ? Version.Segments[s] : null;
            var blocks = Blocks(stored);
            var expected = blocks is null ? stored?.Sha256 : null;
            segment.Position = 0;
            await using var hashing = new HashingReadStream(segment, blocks is not null || expected is not null);
            await using var reader = await SafeArrowReader.OpenAsync(hashing, _limits, segment.Length, recycleBodies, cancellationToken).ConfigureAwait(false);
            if (SchemaFingerprint.Of(reader.Schema) != Version.SchemaFingerprint)
            {
                throw new ArrowInputException(ArrowInputError.LayoutMismatch, $"A segment of version {Version.Version} of {Version.ResourceCode} has another schema than the version.");
            }

            // A segment with blocks is verified block by block; one without is validated batch by batch.
            var deleted = stored?.Deleted;
            long position = 0;
            var batches = blocks is not null ? ReadVerifiedAsync(reader, hashing, blocks, stored!, cancellationToken) : ReadValidatedAsync(reader, cancellationToken);
            await foreach (var batch in batches.ConfigureAwait(false))
            {
                // Rows a merge replaced or deleted (DeletedRows) are left out here, for every reader.
                var first = position;
                position += batch.Length;
                if (deleted is null)
                {
                    yield return batch;
                }
                else if (deleted.Keep(batch, first) is { } live)
                {
                    // A thinned batch may share the read batch's buffers (fresh managed arrays), so that one is left to the collector.
                    yield return live;
                }
                else
                {
                    batch.Dispose();
                }
            }

            if (expected is not null)
            {
                var actual = await hashing.FinishAsync(cancellationToken).ConfigureAwait(false);
                if (!string.Equals(actual, expected, StringComparison.Ordinal))
                {
                    throw Altered(stored!, "does not hash to the SHA-256 recorded when it was written");
                }
            }
        }
    }

    /// <summary>The batches of a segment stored without blocks, each structurally validated as it is read.</summary>
    private static async IAsyncEnumerable<RecordBatch> ReadValidatedAsync(SafeArrowReader reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await reader.ReadNextBatchAsync(cancellationToken).ConfigureAwait(false) is { } batch)
        {
            yield return batch;
        }
    }

    /// <summary>
    /// The batches of a segment with blocks: each block's batches are held until the bytes read
    /// up to the block's end hash to the block's SHA-256, then handed out unvalidated (see
    /// <see cref="ReadBatchesAsync(bool, CancellationToken)"/>). At most one block's batches are
    /// held (a block ends at the first batch end at or past <see cref="DatasetStoreOptions.BlockBytes"/>).
    /// </summary>
    private async IAsyncEnumerable<RecordBatch> ReadVerifiedAsync(SafeArrowReader reader, HashingReadStream hashing, SegmentBlocks.Block[] blocks, DatasetSegment stored, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var held = new Queue<RecordBatch>();
        var next = 0;
        try
        {
            while (true)
            {
                var batch = await reader.ReadNextBatchAsync(validate: false, cancellationToken).ConfigureAwait(false);
                if (batch is not null)
                {
                    held.Enqueue(batch);
                }

                // After the last batch the reader has read the end-of-stream marker and found
                // nothing after it: the position is the file's end, where the last block ends.
                var position = hashing.Position;
                if (next == blocks.Length)
                {
                    throw Altered(stored, $"has more bytes than the {blocks.Length} blocks recorded when it was written");
                }

                if (batch is not null && position < blocks[next].End)
                {
                    continue;
                }

                if (position != blocks[next].End)
                {
                    throw Altered(stored, $"has a batch across the end of block {next} (at byte {blocks[next].End}) recorded when it was written");
                }

                if (!hashing.BlockMatches(blocks[next].Sha256.Span))
                {
                    throw Altered(stored, $"does not hash, in block {next} (bytes up to {blocks[next].End}), to the SHA-256 recorded when it was written");
                }

                next++;
                while (held.TryDequeue(out var verified))
                {
                    yield return verified;
                }

                if (batch is null)
                {
                    break;
                }
            }

            if (next != blocks.Length)
            {
                throw Altered(stored, $"ends after {next} of the {blocks.Length} blocks recorded when it was written");
            }
        }
        finally
        {
            // Batches of a block that failed its check (or of a read given up) are never handed out.
            while (held.TryDequeue(out var unverified))
            {
                unverified.Dispose();
            }
        }
    }

    private SegmentBlocks.Block[]? Blocks(DatasetSegment? stored)
    {
        try
        {
            return SegmentBlocks.Parse(stored?.Blocks);
        }
        catch (FormatException ex)
        {
            throw new ArrowInputException(ArrowInputError.ChecksumMismatch, $"The block list of segment {stored!.File} of version {Version.Version} of {Version.ResourceCode} is unreadable: {ex.Message}");
        }
    }

    private ArrowInputException Altered(DatasetSegment stored, string what) =>
        new(ArrowInputError.ChecksumMismatch, $"Segment {stored.File} of version {Version.Version} of {Version.ResourceCode} {what}.");

    public async ValueTask DisposeAsync()
    {
        foreach (var segment in _segments)
        {
            await segment.DisposeAsync().ConfigureAwait(false);
        }
    }
}
