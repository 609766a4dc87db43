using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading.Channels;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Logs;

/// <summary>Whether a log can append.</summary>
public enum LogCondition
{
    Writable,

    /// <summary>The last write failed for lack of space; the writer retries and resumes by itself.</summary>
    Retrying,

    /// <summary>The log failed in a way it cannot repair (an I/O error); only a restart helps.</summary>
    Failed,
}

/// <summary>The condition of one log and, unless writable, why.</summary>
public sealed record LogState(LogKind Log, LogCondition Condition, string? Reason);

/// <summary>What start-up recovery found in one log.</summary>
public sealed record LogRecovery(LogKind Log, long LastSequence, long TruncatedBytes, string? TruncatedFile);

/// <summary>
/// The node's single writer of its change, exchange and query logs. <see cref="AppendAsync"/>
/// returns only after the record is fsync'd; concurrent appends share one fsync (group commit).
/// It needs the open <see cref="NodeDataFolder"/>, whose lock makes it the only writer.
/// </summary>
public sealed class LogWriter : IAsyncDisposable
{
    private readonly Dictionary<LogKind, LogChannel> _logs = [];

    /// <summary>Opens the logs of <paramref name="folder"/>, recovering a torn tail, and starts the writers.</summary>
    /// <remarks>The node's private key (ECDSA) signs the checkpoints. <c>replica</c>: this replica's id when the node runs as several replicas (<c>State:ReplicaId</c>), written into and hashed with every entry; null for a node of one process.</remarks>
    /// <exception cref="LogCorruptedException">A record in the middle of a segment is damaged.</exception>
    /// <exception cref="NodeConfigurationException">The folder's chains were written by another replica (or by a node of one process).</exception>
    public LogWriter(NodeDataFolder folder, string node, ECDsa signingKey, LogOptions options, TimeProvider time, ILogger<LogWriter>? logger = null, string? replica = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(signingKey);
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        if (replica is not null && !LogEntry.IsValidReplica(replica))
        {
            throw new ArgumentException($"'{replica}' is not a replica id.", nameof(replica));
        }

        Node = node;
        Replica = replica;
        Clock = time;
        Store = new LogStore(folder.SubFolder("logs"));
        ILogger log = logger ?? NullLogger<LogWriter>.Instance;
        var keyId = LogCheckpoint.KeyId(signingKey);
        var recoveries = new List<LogRecovery>();
        try
        {
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                var channel = new LogChannel(kind, node, replica, Store, signingKey, keyId, options, time, log);
                _logs[kind] = channel;
                recoveries.Add(channel.Recovery);
            }
        }
        catch
        {
            // A later log refused to open: stop the writers already started, so no file stays open.
            foreach (var started in _logs.Values)
            {
                started.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            throw;
        }

        Recoveries = recoveries;
    }

    /// <summary>Same, with the key of the node's certificate.</summary>
    public LogWriter(NodeDataFolder folder, string node, X509Certificate2 certificate, LogOptions options, TimeProvider time, ILogger<LogWriter>? logger = null, string? replica = null)
        : this(folder, node, certificate?.GetECDsaPrivateKey() ?? throw new ArgumentException("The node certificate has no ECDSA private key.", nameof(certificate)), options, time, logger, replica)
    {
    }

    /// <summary>Division code of the node writing the logs.</summary>
    public string Node { get; }

    /// <summary>
    /// The writer's clock: a record whose <see cref="LogRecord.Time"/> is left default gets its time
    /// from it. A caller that builds a new record per append (<c>ExchangeStep</c>) sets the time
    /// from it itself, so the writer need not copy the record only to fill that one property.
    /// </summary>
    internal TimeProvider Clock { get; }

    /// <summary>The replica whose chains these are (null for a node of one process); see <see cref="LogEntry.Replica"/>.</summary>
    public string? Replica { get; }

    public LogStore Store { get; }

    /// <summary>What start-up recovery did, one entry per log.</summary>
    public IReadOnlyList<LogRecovery> Recoveries { get; }

    /// <summary>Appends a record and returns its sequence number once it is durably on disk.</summary>
    /// <exception cref="LogRecordInvalidException">The record is incomplete for this log.</exception>
    /// <exception cref="LogUnavailableException">The log could not be written; nothing was acknowledged.</exception>
    public Task<long> AppendAsync(LogKind log, LogRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        var errors = record.Validate(log);
        if (errors.Count > 0)
        {
            throw new LogRecordInvalidException(log, errors);
        }

        return _logs[log].AppendAsync(record, cancellationToken);
    }

    /// <summary>The last sequence that is on disk; the relay ships nothing beyond it.</summary>
    public long DurableSequence(LogKind log) => _logs[log].DurableSequence;

    /// <summary>
    /// A feed of the entries of <paramref name="log"/> made durable from now on, as the writer built
    /// them (<see cref="LogFollower"/>): for a reader that would otherwise read back and parse
    /// every group just written. Dispose it to stop the feed.
    /// </summary>
    public LogFollower Follow(LogKind log) => _logs[log].Follow();

    /// <summary>Completes when the log's durable sequence passes <paramref name="afterSequence"/>.</summary>
    public Task WaitForDurableAsync(LogKind log, long afterSequence, CancellationToken cancellationToken) =>
        _logs[log].WaitForDurableAsync(afterSequence, cancellationToken);

    /// <summary>Appends a signed checkpoint now if records were added since the last one.</summary>
    public Task CheckpointAsync(LogKind log) => _logs[log].CheckpointAsync();

    /// <summary>
    /// Appends entries this node wrote before, byte for byte (a restored node taking back what it had
    /// shipped to Kafka: <see cref="LogRestore"/>); returns the last sequence once they are on disk.
    /// The first must follow the log's head (sequence and hash) and each the one before; otherwise
    /// nothing is written. The caller has verified them (<see cref="LogVerifier.VerifyCopy"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The entries do not continue the log's chain.</exception>
    public Task<long> AppendCopiedAsync(LogKind log, IReadOnlyList<LogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries.Count == 0 ? Task.FromResult(DurableSequence(log)) : _logs[log].AppendCopiedAsync(entries);
    }

    /// <summary>True when <paramref name="log"/> can append now: an exchange that could not be logged is refused up front.</summary>
    public bool CanAppend(LogKind log) => _logs[log].State.Condition == LogCondition.Writable;

    /// <summary>Whether each log can append now, and why not (for the health probes).</summary>
    public IReadOnlyList<LogState> States() => [.. _logs.Values.Select(l => l.State)];

    /// <summary>Waits for archiving of closed segments to finish (tests and shutdown).</summary>
    public Task ArchivingCompleted(LogKind log) => _logs[log].Archiving;

    /// <summary>Signs a final checkpoint per log, flushes and closes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _logs.Values)
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One log: a queue drained by one loop that writes a batch and fsyncs it once.</summary>
    private sealed class LogChannel : IAsyncDisposable
    {
        private const int MaxBatch = 4096;

        /// <summary>How often a log that could not write tries again (a signed checkpoint as the probe).</summary>
        private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
        private readonly LogKind _kind;
        private readonly string _node;
        private readonly string? _replica;
        private readonly LogStore _store;
        private readonly string _folder;
        private readonly ECDsa _key;
        private readonly string _keyId;
        private readonly LogOptions _options;
        private readonly TimeProvider _time;
        private readonly ILogger _logger;
        private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Task _loop;
        private readonly Lock _signal = new();
        private TaskCompletionSource _durable = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private FileStream _segment;
        private string _segmentPath;
        private long _segmentFirstSeq;
        private long _sequence;
        private string _lastHash;
        private int _sinceCheckpoint;
        private DateTimeOffset _lastCheckpoint;
        private long _durableSequence;
        private long _durableLength;
        private Exception? _fault;
        private Exception? _retrying;
        private Task? _retryTimer;
        private LogFollower[] _followers = [];

        public LogChannel(LogKind kind, string node, string? replica, LogStore store, ECDsa key, string keyId, LogOptions options, TimeProvider time, ILogger logger)
        {
            _kind = kind;
            _node = node;
            _replica = replica;
            _store = store;
            _folder = store.FolderOf(kind);
            _key = key;
            _keyId = keyId;
            _options = options;
            _time = time;
            _logger = logger;
            Directory.CreateDirectory(_folder);
            Directory.CreateDirectory(Path.Combine(_folder, LogStore.ArchiveFolder));
            var recovery = LogRecoverer.Recover(kind, store, logger);
            Recovery = recovery.Report;
            _sequence = recovery.LastSequence;
            _lastHash = recovery.LastHash;
            CheckChainOwner(kind, store, replica, _sequence);
            _durableSequence = _sequence;
            _segmentPath = recovery.SegmentPath ?? Path.Combine(_folder, LogStore.SegmentName(_sequence + 1));
            _segmentFirstSeq = LogStore.SegmentFirstSeq(_segmentPath) ?? 1;
            _segment = OpenSegment(_segmentPath);
            _durableLength = _segment.Length;
            _lastCheckpoint = time.GetUtcNow();
            Archiving = Task.Run(() => ArchiveClosedSegments());
            _loop = Task.Run(RunAsync);
        }

        public LogRecovery Recovery { get; }

        public Task Archiving { get; private set; }

        /// <summary>
        /// A chain has one writer for its whole life: the replica (or the node of one process) that
        /// began it. Continuing another's chain under a new replica id would split it in two for
        /// every reader that tells chains apart (statistics, log verify over Kafka).
        /// </summary>
        private static void CheckChainOwner(LogKind kind, LogStore store, string? replica, long last)
        {
            if (last == 0 || store.ReadEntries(kind, last, last).FirstOrDefault() is not { } entry || entry.Replica == replica)
            {
                return;
            }

            string Name(string? r) => r is null ? "a node of one process (no replica id)" : $"replica '{r}'";
            throw new NodeConfigurationException([
                $"Node:DataPath: the {LogEntry.LogName(kind)} log in {store.FolderOf(kind)} is the chain of {Name(entry.Replica)}, but this process runs as {Name(replica)} (State:Backend, State:ReplicaId). Each replica writes its own chain: give it its own data folder.",
            ]);
        }

        public long DurableSequence => Volatile.Read(ref _durableSequence);

        public LogFollower Follow()
        {
            var follower = new LogFollower(_kind, Unfollow);
            lock (_signal)
            {
                _followers = [.. _followers, follower];
            }

            return follower;
        }

        private void Unfollow(LogFollower follower)
        {
            lock (_signal)
            {
                _followers = [.. _followers.Where(f => f != follower)];
            }
        }

        public LogState State => Volatile.Read(ref _fault) is { } fault
            ? new LogState(_kind, LogCondition.Failed, fault.Message)
            : Volatile.Read(ref _retrying) is { } retrying
                ? new LogState(_kind, LogCondition.Retrying, retrying.Message)
                : new LogState(_kind, LogCondition.Writable, null);

        public Task<long> AppendAsync(LogRecord record, CancellationToken cancellationToken)
        {
            // Fail fast while the log cannot write: the caller answers at once (503/507) instead of
            // queueing behind a disk that is full. The retry loop brings the log back.
            if ((Volatile.Read(ref _fault) ?? Volatile.Read(ref _retrying)) is { } failure)
            {
                throw new LogUnavailableException(_kind, failure);
            }

            if (record.Time == default)
            {
                record = record with { Time = _time.GetUtcNow() };
            }

            var (json, length) = LogJson.SerializePooled(record);
            var pending = new Pending(json, length, record: LogEntry.SameAsRead(record) ? record : null);
            ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), typeof(LogWriter));

            // Cancellation only stops the wait: a record handed over is written regardless.
            return pending.Task.WaitAsync(cancellationToken);
        }

        public Task<long> AppendCopiedAsync(IReadOnlyList<LogEntry> entries)
        {
            var pending = new Pending(null, 0, copied: entries);
            ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), typeof(LogWriter));
            return pending.Task;
        }

        public Task CheckpointAsync()
        {
            var pending = new Pending(null, 0);
            return _queue.Writer.TryWrite(pending) ? pending.Task : Task.CompletedTask;
        }

        /// <summary>A checkpoint written even if one was just written: the retry's probe of the disk.</summary>
        private Task ProbeAsync()
        {
            var pending = new Pending(null, 0, probe: true);
            return _queue.Writer.TryWrite(pending) ? pending.Task : Task.CompletedTask;
        }

        public Task WaitForDurableAsync(long afterSequence, CancellationToken cancellationToken)
        {
            Task wait;
            lock (_signal)
            {
                if (DurableSequence > afterSequence)
                {
                    return Task.CompletedTask;
                }

                wait = _durable.Task;
            }

            return wait.WaitAsync(cancellationToken);
        }

        private async Task RunAsync()
        {
            var batch = new List<Pending>(MaxBatch);
            var results = new List<(Pending Pending, long Sequence)>(MaxBatch);
            var buffer = new MemoryStream();
            var written = new List<(LogEntry Entry, LogPosition At)>();
            LogFollower[] followers = [];

            // One line into the group's buffer, and, for the followers, where it will begin in the segment.
            void Write(LogEntry entry)
            {
                if (followers.Length > 0)
                {
                    written.Add((entry, new LogPosition(_segmentFirstSeq, _durableLength + buffer.Length)));
                }

                buffer.Write(entry.Line.Span);
                buffer.WriteByte((byte)'\n');
            }

            byte[] WriteCheckpoint(ref long sequence, ref string hash)
            {
                var checkpoint = AppendCheckpoint(ref sequence, ref hash);
                Write(checkpoint);
                return checkpoint.Line.ToArray();
            }

            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
                {
                    batch.Add(next);
                }

                if (_fault is not null)
                {
                    batch.ForEach(p => p.TrySetException(new LogUnavailableException(_kind, _fault)));
                    continue;
                }

                if (_retrying is not null)
                {
                    // Records queued before the failure are refused like those after it; only the
                    // probe writes, so the chain resumes exactly where the durable part ends.
                    foreach (var refused in batch.Where(p => !p.Probe))
                    {
                        refused.TrySetException(new LogUnavailableException(_kind, _retrying));
                    }

                    batch.RemoveAll(p => !p.Probe);
                    if (batch.Count == 0)
                    {
                        continue;
                    }
                }

                results.Clear();
                buffer.SetLength(0);
                written.Clear();
                followers = Volatile.Read(ref _followers);
                var sequence = _sequence;
                var hash = _lastHash;
                var sinceCheckpoint = _sinceCheckpoint;
                var checkpointed = false;
                byte[]? checkpointLine = null;
                foreach (var pending in batch)
                {
                    if (pending.Copied is { } copied)
                    {
                        // Written as they are: they carry their own hashes and the source's checkpoints.
                        if (ChainProblem(copied, sequence, hash) is { } problem)
                        {
                            pending.TrySetException(new InvalidDataException($"The {_kind} log: {problem}; nothing was appended."));
                            continue;
                        }

                        foreach (var copy in copied)
                        {
                            Write(copy);
                            if (copy.Type == LogEntryType.Checkpoint)
                            {
                                checkpointLine = copy.Line.ToArray();
                                sinceCheckpoint = 0;
                            }
                            else
                            {
                                sinceCheckpoint++;
                            }
                        }

                        sequence = copied[^1].Sequence;
                        hash = copied[^1].Hash;
                        results.Add((pending, sequence));
                        continue;
                    }

                    if (pending.Json is null)
                    {
                        if (sinceCheckpoint > 0 || (pending.Probe && !checkpointed))
                        {
                            checkpointLine = WriteCheckpoint(ref sequence, ref hash);
                            sinceCheckpoint = 0;
                            checkpointed = true;
                        }

                        results.Add((pending, sequence));
                        continue;
                    }

                    var entry = LogEntry.Create(_kind, _node, ++sequence, LogEntryType.Record, hash, pending.Json.AsMemory(0, pending.JsonLength), _replica);

                    // The line holds its own copy of the record's bytes.
                    LogJson.Return(pending.Json);
                    if (pending.Record is { } made)
                    {
                        // The record this entry's bytes were made from: its readers (statistics,
                        // evaluation, the Kafka relay) need not read the bytes back into another.
                        entry.Remember(made);
                    }

                    Write(entry);
                    hash = entry.Hash;
                    results.Add((pending, sequence));
                    if (++sinceCheckpoint >= _options.CheckpointEvery)
                    {
                        checkpointLine = WriteCheckpoint(ref sequence, ref hash);
                        sinceCheckpoint = 0;
                        checkpointed = true;
                    }
                }

                var now = _time.GetUtcNow();
                if (sinceCheckpoint > 0 && now - _lastCheckpoint >= _options.CheckpointInterval)
                {
                    checkpointLine = WriteCheckpoint(ref sequence, ref hash);
                    sinceCheckpoint = 0;
                    checkpointed = true;
                }

                if (buffer.Length == 0)
                {
                    results.ForEach(r => r.Pending.TrySetResult(r.Sequence));
                    continue;
                }

                try
                {
                    if (_retrying is not null)
                    {
                        RestoreDurableEnd();
                    }

                    _segment.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                    _segment.Flush(flushToDisk: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    results.ForEach(r => r.Pending.TrySetException(new LogUnavailableException(_kind, ex)));
                    if (DiskSpace.IsFull(ex))
                    {
                        // Nothing of this batch was acknowledged, and the bytes it may have left are
                        // cut off before the next write: same sequence, same hash, no gap, no duplicate.
                        if (_retrying is null)
                        {
                            LogsDiagnostics.LogRetrying(_logger, ex, _kind, _sequence);
                        }

                        Volatile.Write(ref _retrying, ex);
                        TryRestoreDurableEnd();
                        ScheduleRetry();
                    }
                    else
                    {
                        // An I/O error: after a failed fsync the page cache state is unknown, so
                        // acknowledge nothing more. Liveness turns false; a restart recovers.
                        Volatile.Write(ref _fault, ex);
                        LogsDiagnostics.LogFaulted(_logger, ex, _kind);
                    }

                    continue;
                }

                _durableLength += buffer.Length;
                LogMetrics.RecordGroup(_kind, results.Count);
                foreach (var (pending, _) in results)
                {
                    LogMetrics.RecordAppend(_kind, pending.Enqueued);
                }

                if (_retrying is not null)
                {
                    Volatile.Write(ref _retrying, null);
                    LogsDiagnostics.LogResumed(_logger, _kind, sequence);
                }

                _sequence = sequence;
                _lastHash = hash;
                _sinceCheckpoint = sinceCheckpoint;
                if (checkpointed)
                {
                    _lastCheckpoint = now;
                    LogsDiagnostics.CheckpointSigned(_logger, _kind, sequence);
                }

                // Before the durable sequence moves: a reader that sees it finds these entries held.
                foreach (var follower in followers)
                {
                    follower.Add(written);
                }

                lock (_signal)
                {
                    Volatile.Write(ref _durableSequence, sequence);
                    _durable.TrySetResult();
                    _durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                results.ForEach(r => r.Pending.TrySetResult(r.Sequence));
                if (checkpointLine is not null)
                {
                    SaveLastCheckpoint(checkpointLine);
                }

                // What was fsync'd is the segment's length (no fstat a group).
                if (_durableLength >= _options.SegmentBytes)
                {
                    Rotate();
                }
            }
        }

        /// <summary>
        /// Keeps a copy of the last signed checkpoint beside the segments, so that records deleted
        /// from the end of the log (which leave the chain itself intact) are noticed at start.
        /// </summary>
        private void SaveLastCheckpoint(byte[] line)
        {
            try
            {
                LogStore.ReplaceFile(Path.Combine(_folder, LogStore.CheckpointFile), line);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The previous copy stays; it names an earlier checkpoint, which is still true.
                LogsDiagnostics.CheckpointFileFailed(_logger, ex, _kind);
            }
        }

        /// <summary>Cuts the segment back to what was fsync'd, dropping whatever a failed write left.</summary>
        private void RestoreDurableEnd()
        {
            _segment.Dispose();
            using (var file = new FileStream(_segmentPath, FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete))
            {
                file.SetLength(_durableLength);
                file.Flush(flushToDisk: true);
            }

            _segment = OpenSegment(_segmentPath);
        }

        private void TryRestoreDurableEnd()
        {
            try
            {
                RestoreDurableEnd();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Tried again before the next write.
            }
        }

        /// <summary>While the log cannot write, a probe checkpoint is tried every second until one is durable.</summary>
        private void ScheduleRetry()
        {
            if (_retryTimer is { IsCompleted: false })
            {
                return;
            }

            _retryTimer = Task.Run(async () =>
            {
                while (Volatile.Read(ref _retrying) is not null && Volatile.Read(ref _fault) is null && !_queue.Reader.Completion.IsCompleted)
                {
                    await Task.Delay(RetryInterval).ConfigureAwait(false);
                    try
                    {
                        await ProbeAsync().ConfigureAwait(false);
                    }
                    catch (LogUnavailableException)
                    {
                        // Still no space: the next round tries again.
                    }
                }
            });
        }

        /// <summary>Signs a checkpoint after <paramref name="sequence"/>; the caller writes its line.</summary>
        private LogEntry AppendCheckpoint(ref long sequence, ref string hash)
        {
            var checkpoint = LogCheckpoint.Sign(_key, _keyId, _node, _kind, sequence, hash, _time.GetUtcNow());
            var json = JsonSerializer.SerializeToUtf8Bytes(checkpoint, LogJson.Options);
            var entry = LogEntry.Create(_kind, _node, ++sequence, LogEntryType.Checkpoint, hash, json, _replica);
            hash = entry.Hash;
            return entry;
        }

        private void Rotate()
        {
            // The new segment first: if it cannot be made (no space for a file), the full one stays
            // live and rotation is tried after the next write.
            var path = Path.Combine(_folder, LogStore.SegmentName(_sequence + 1));
            FileStream next;
            try
            {
                next = OpenSegment(path);
            }
            catch (IOException ex)
            {
                LogsDiagnostics.RotationFailed(_logger, ex, _kind);
                return;
            }

            _segment.Dispose();
            var closed = _segmentPath;
            var closedFirst = _segmentFirstSeq;
            _segmentPath = path;
            _segmentFirstSeq = _sequence + 1;
            _segment = next;
            _durableLength = 0;
            var lastSeq = _sequence;
            Archiving = Archiving.ContinueWith(_ => Archive(closed, closedFirst, lastSeq), TaskScheduler.Default);
        }

        private static FileStream OpenSegment(string path)
        {
            var isNew = !File.Exists(path);
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
            if (isNew)
            {
                stream.Flush(flushToDisk: true);
                DirectorySync.Flush(Path.GetDirectoryName(path)!);
            }

            return stream;
        }

        private void ArchiveClosedSegments()
        {
            var segments = _store.Segments(_kind);
            for (var i = 0; i + 1 < segments.Count; i++)
            {
                Archive(segments[i].Path, segments[i].FirstSeq, segments[i + 1].FirstSeq - 1);
            }
        }

        private void Archive(string segment, long firstSeq, long lastSeq)
        {
            try
            {
                LogArchiver.Archive(_store, _kind, segment, firstSeq, lastSeq, _options.ArchiveCompressionLevel);
                LogsDiagnostics.SegmentArchived(_logger, _kind, Path.GetFileName(segment), firstSeq, lastSeq);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                LogsDiagnostics.ArchiveFailed(_logger, ex, _kind, Path.GetFileName(segment));
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_fault is null && _retrying is null)
            {
                try
                {
                    await CheckpointAsync().ConfigureAwait(false);
                }
                catch (LogUnavailableException)
                {
                    // The disk filled at the last moment: the log ends without its closing checkpoint.
                }
            }

            _queue.Writer.TryComplete();
            await _loop.ConfigureAwait(false);
            if (_retryTimer is not null)
            {
                await _retryTimer.ConfigureAwait(false);
            }

            await Archiving.ConfigureAwait(false);
            await _segment.DisposeAsync().ConfigureAwait(false);
        }

        /// <summary>Why copied entries cannot follow (<paramref name="sequence"/>, <paramref name="hash"/>), or null when they can.</summary>
        private string? ChainProblem(IReadOnlyList<LogEntry> copied, long sequence, string hash)
        {
            foreach (var copy in copied)
            {
                if (copy.Log != _kind || copy.Node != _node || copy.Replica != _replica || copy.Sequence != sequence + 1 || copy.PreviousHash != hash || !copy.HashMatches)
                {
                    return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"copied entry {copy.Sequence} of node {copy.Node}{(copy.Replica is null ? "" : " replica " + copy.Replica)} does not follow record {sequence} ({hash})");
                }

                if (copy.Line.Span.IndexOfAny((byte)'\n', (byte)'\r') >= 0)
                {
                    return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"copied entry {copy.Sequence} spans more than one line");
                }

                sequence = copy.Sequence;
                hash = copy.Hash;
            }

            return null;
        }

        /// <summary>
        /// One queued append, and the completion its caller awaits (one object a record, not a
        /// record beside a TaskCompletionSource). <see cref="Json"/>: the record's bytes in their
        /// first <see cref="JsonLength"/> bytes, from <see cref="LogJson.SerializePooled"/>; null
        /// for a checkpoint, a probe or copied entries.
        /// </summary>
        private sealed class Pending(byte[]? json, int jsonLength, bool probe = false, IReadOnlyList<LogEntry>? copied = null, LogRecord? record = null)
            : TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            public byte[]? Json { get; } = json;

            public int JsonLength { get; } = jsonLength;

            public bool Probe { get; } = probe;

            public IReadOnlyList<LogEntry>? Copied { get; } = copied;

            public LogRecord? Record { get; } = record;

            /// <summary>When the append was handed over, for <c>govshare.log.append.duration</c>.</summary>
            public long Enqueued { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
        }
    }
}

/// <summary>The log cannot be written (disk full, I/O error); the record was not acknowledged.</summary>
public sealed class LogUnavailableException(LogKind log, Exception inner)
    : Exception($"The {log} log cannot be written: {inner.Message}", inner);

/// <summary>
/// A log is damaged or tampered with (not a torn write): the node refuses to continue the chain.
/// <see cref="Sequence"/> and <see cref="File"/> name the first bad record.
/// </summary>
public sealed class LogCorruptedException(LogKind log, long sequence, string file, string message) : Exception(message)
{
    public LogKind Log { get; } = log;

    public long Sequence { get; } = sequence;

    public string File { get; } = file;
}
