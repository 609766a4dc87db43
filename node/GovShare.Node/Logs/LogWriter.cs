using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading.Channels;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Logs;

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
    /// <remarks>The node's private key (ECDSA) signs the checkpoints.</remarks>
    /// <exception cref="LogCorruptedException">A record in the middle of a segment is damaged.</exception>
    public LogWriter(NodeDataFolder folder, string node, ECDsa signingKey, LogOptions options, TimeProvider time, ILogger<LogWriter>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(signingKey);
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        Node = node;
        Store = new LogStore(folder.SubFolder("logs"));
        ILogger log = logger ?? NullLogger<LogWriter>.Instance;
        var keyId = LogCheckpoint.KeyId(signingKey);
        var recoveries = new List<LogRecovery>();
        foreach (var kind in Enum.GetValues<LogKind>())
        {
            var channel = new LogChannel(kind, node, Store, signingKey, keyId, options, time, log);
            _logs[kind] = channel;
            recoveries.Add(channel.Recovery);
        }

        Recoveries = recoveries;
    }

    /// <summary>Same, with the key of the node's certificate.</summary>
    public LogWriter(NodeDataFolder folder, string node, X509Certificate2 certificate, LogOptions options, TimeProvider time, ILogger<LogWriter>? logger = null)
        : this(folder, node, certificate?.GetECDsaPrivateKey() ?? throw new ArgumentException("The node certificate has no ECDSA private key.", nameof(certificate)), options, time, logger)
    {
    }

    /// <summary>Division code of the node writing the logs.</summary>
    public string Node { get; }

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

    /// <summary>Completes when the log's durable sequence passes <paramref name="afterSequence"/>.</summary>
    public Task WaitForDurableAsync(LogKind log, long afterSequence, CancellationToken cancellationToken) =>
        _logs[log].WaitForDurableAsync(afterSequence, cancellationToken);

    /// <summary>Appends a signed checkpoint now if records were added since the last one.</summary>
    public Task CheckpointAsync(LogKind log) => _logs[log].CheckpointAsync();

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
        private readonly LogKind _kind;
        private readonly string _node;
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
        private Exception? _fault;

        public LogChannel(LogKind kind, string node, LogStore store, ECDsa key, string keyId, LogOptions options, TimeProvider time, ILogger logger)
        {
            _kind = kind;
            _node = node;
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
            _durableSequence = _sequence;
            _segmentPath = recovery.SegmentPath ?? Path.Combine(_folder, LogStore.SegmentName(_sequence + 1));
            _segmentFirstSeq = LogStore.SegmentFirstSeq(_segmentPath) ?? 1;
            _segment = OpenSegment(_segmentPath);
            _lastCheckpoint = time.GetUtcNow();
            Archiving = Task.Run(() => ArchiveClosedSegments());
            _loop = Task.Run(RunAsync);
        }

        public LogRecovery Recovery { get; }

        public Task Archiving { get; private set; }

        public long DurableSequence => Volatile.Read(ref _durableSequence);

        public Task<long> AppendAsync(LogRecord record, CancellationToken cancellationToken)
        {
            if (_fault is not null)
            {
                throw new LogUnavailableException(_kind, _fault);
            }

            if (record.Time == default)
            {
                record = record with { Time = _time.GetUtcNow() };
            }

            var json = JsonSerializer.SerializeToUtf8Bytes(record, LogJson.Options);
            var pending = new Pending(json, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
            ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), typeof(LogWriter));

            // Cancellation only stops the wait: a record handed over is written regardless.
            return pending.Done.Task.WaitAsync(cancellationToken);
        }

        public Task CheckpointAsync()
        {
            var pending = new Pending(null, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
            return _queue.Writer.TryWrite(pending) ? pending.Done.Task : Task.CompletedTask;
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
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
                {
                    batch.Add(next);
                }

                if (_fault is not null)
                {
                    batch.ForEach(p => p.Done.TrySetException(new LogUnavailableException(_kind, _fault)));
                    continue;
                }

                results.Clear();
                buffer.SetLength(0);
                var sequence = _sequence;
                var hash = _lastHash;
                var sinceCheckpoint = _sinceCheckpoint;
                var checkpointed = false;
                foreach (var pending in batch)
                {
                    if (pending.Json is null)
                    {
                        if (sinceCheckpoint > 0)
                        {
                            AppendCheckpoint(buffer, ref sequence, ref hash);
                            sinceCheckpoint = 0;
                            checkpointed = true;
                        }

                        results.Add((pending, sequence));
                        continue;
                    }

                    var entry = LogEntry.Create(_kind, _node, ++sequence, LogEntryType.Record, hash, pending.Json);
                    buffer.Write(entry.Line.Span);
                    buffer.WriteByte((byte)'\n');
                    hash = entry.Hash;
                    results.Add((pending, sequence));
                    if (++sinceCheckpoint >= _options.CheckpointEvery)
                    {
                        AppendCheckpoint(buffer, ref sequence, ref hash);
                        sinceCheckpoint = 0;
                        checkpointed = true;
                    }
                }

                var now = _time.GetUtcNow();
                if (sinceCheckpoint > 0 && now - _lastCheckpoint >= _options.CheckpointInterval)
                {
                    AppendCheckpoint(buffer, ref sequence, ref hash);
                    sinceCheckpoint = 0;
                    checkpointed = true;
                }

                if (buffer.Length == 0)
                {
                    results.ForEach(r => r.Pending.Done.TrySetResult(r.Sequence));
                    continue;
                }

                try
                {
                    _segment.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                    _segment.Flush(flushToDisk: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // After a failed fsync the page cache state is unknown: acknowledge nothing more.
                    _fault = ex;
                    LogsDiagnostics.LogFaulted(_logger, ex, _kind);
                    results.ForEach(r => r.Pending.Done.TrySetException(new LogUnavailableException(_kind, ex)));
                    continue;
                }

                _sequence = sequence;
                _lastHash = hash;
                _sinceCheckpoint = sinceCheckpoint;
                if (checkpointed)
                {
                    _lastCheckpoint = now;
                    LogsDiagnostics.CheckpointSigned(_logger, _kind, sequence);
                }

                lock (_signal)
                {
                    Volatile.Write(ref _durableSequence, sequence);
                    _durable.TrySetResult();
                    _durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                results.ForEach(r => r.Pending.Done.TrySetResult(r.Sequence));
                if (_segment.Length >= _options.SegmentBytes)
                {
                    Rotate();
                }
            }
        }

        private void AppendCheckpoint(MemoryStream buffer, ref long sequence, ref string hash)
        {
            var checkpoint = LogCheckpoint.Sign(_key, _keyId, _node, _kind, sequence, hash, _time.GetUtcNow());
            var json = JsonSerializer.SerializeToUtf8Bytes(checkpoint, LogJson.Options);
            var entry = LogEntry.Create(_kind, _node, ++sequence, LogEntryType.Checkpoint, hash, json);
            buffer.Write(entry.Line.Span);
            buffer.WriteByte((byte)'\n');
            hash = entry.Hash;
        }

        private void Rotate()
        {
            try
            {
                _segment.Dispose();
                var closed = _segmentPath;
                var closedFirst = _segmentFirstSeq;
                _segmentPath = Path.Combine(_folder, LogStore.SegmentName(_sequence + 1));
                _segmentFirstSeq = _sequence + 1;
                _segment = OpenSegment(_segmentPath);
                var lastSeq = _sequence;
                Archiving = Archiving.ContinueWith(_ => Archive(closed, closedFirst, lastSeq), TaskScheduler.Default);
            }
            catch (IOException ex)
            {
                _fault = ex;
                LogsDiagnostics.LogFaulted(_logger, ex, _kind);
            }
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
                LogArchiver.Archive(_store, _kind, segment, firstSeq, lastSeq);
                LogsDiagnostics.SegmentArchived(_logger, _kind, Path.GetFileName(segment), firstSeq, lastSeq);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                LogsDiagnostics.ArchiveFailed(_logger, ex, _kind, Path.GetFileName(segment));
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_fault is null)
            {
                await CheckpointAsync().ConfigureAwait(false);
            }

            _queue.Writer.TryComplete();
            await _loop.ConfigureAwait(false);
            await Archiving.ConfigureAwait(false);
            await _segment.DisposeAsync().ConfigureAwait(false);
        }

        private sealed record Pending(byte[]? Json, TaskCompletionSource<long> Done);
    }
}

/// <summary>The log cannot be written (disk full, I/O error); the record was not acknowledged.</summary>
public sealed class LogUnavailableException(LogKind log, Exception inner)
    : Exception($"The {log} log cannot be written: {inner.Message}", inner);

/// <summary>A record inside a log segment is damaged; the node refuses to continue the chain.</summary>
public sealed class LogCorruptedException(string message) : Exception(message);
