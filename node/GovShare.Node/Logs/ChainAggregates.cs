using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>
/// Running totals derived from one log chain, folded one entry at a time in sequence order
/// (<see cref="StatisticsAggregate"/>, the evaluation's aggregates). <see cref="Sequence"/> and
/// <see cref="Hash"/> name the last entry folded.
/// </summary>
public interface IChainAggregate
{
    long Sequence { get; }

    string Hash { get; }

    /// <summary>Folds the next entry; an entry out of sequence is refused.</summary>
    void Fold(LogEntry entry);

    /// <summary>The aggregate as bytes its loader reads back (<see cref="AggregateWriter"/>: tagged, versioned; the file's header adds the checksum).</summary>
    byte[] Serialize();
}

/// <summary>
/// A set of per-chain aggregates of one log (<see cref="ChainAggregates{T}"/>) as a shared reader
/// feeds them: <see cref="LogTail.CatchUp"/> reads each chain's new entries once and folds every
/// entry into every set's aggregate of that chain, so the statistics and the evaluation do not
/// each read and parse the same records.
/// </summary>
public interface ITailedAggregates
{
    /// <summary>The log whose chains are folded.</summary>
    LogKind Log { get; }

    /// <summary>One fold per chain (the own first, then every other replica's, in name order), created as chains appear.</summary>
    IReadOnlyList<IChainFold> Chains();

    /// <summary>Entries folded since this was created, over every chain.</summary>
    long Folded { get; }

    /// <summary>The own chain's writer's hand-over (<see cref="IChainFold.Follower"/>), or null; set once, read without the lock.</summary>
    LogFollower? Follower => null;
}

/// <summary>One chain's aggregate, fed entries by <see cref="LogTail"/>.</summary>
public interface IChainFold
{
    /// <summary>The chain's store (its folder names the chain: own or another replica's).</summary>
    LogStore Store { get; }

    /// <summary>True for another replica's chain (read as far as it is whole), false for this process's (read up to its durable sequence).</summary>
    bool Other { get; }

    /// <summary>The own chain's writer's hand-over of what it made durable (<see cref="LogFollower"/>), or null: read the chain only.</summary>
    LogFollower? Follower { get; }

    /// <summary>
    /// Loads (or rebuilds) the aggregate and says what it needs: entries from <c>From</c> to
    /// <c>To</c>, reading on from <c>Resume</c>; <c>From &gt; To</c> when nothing is new.
    /// </summary>
    (long From, long To, LogPosition? Resume) Prepare();

    /// <summary>The next sequence this aggregate needs (what it folded last + 1).</summary>
    long NextSequence { get; }

    /// <summary>Folds the entry when it is the next one; one already folded is skipped.</summary>
    void Offer(LogEntry entry, LogPosition at);

    /// <summary>After a read: remembers how far the chain was read, saves every so many entries.</summary>
    void Done();
}

/// <summary>
/// The one reader of the logs' new entries for every aggregate that tails them: per chain, the
/// entries after the least advanced aggregate's last are read and parsed once, and each is offered
/// to every aggregate of that chain (one that folded it already skips it). On the own chain they
/// come first from the writer's hand-over (<see cref="LogFollower"/>: the entries as the writer
/// built them, nothing read back), and from the chain's files for whatever it does not hold. The
/// caller holds every set's lock.
/// </summary>
public static class LogTail
{
    /// <summary>Folds what is new in every chain into every set's aggregates; cancelled between two entries (what was folded stays whole).</summary>
    public static void CatchUp(IEnumerable<ITailedAggregates> sets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sets);
        var groups = sets.SelectMany(s => s.Chains().Select(c => (s.Log, Chain: c)))
            .GroupBy(c => (c.Log, Folder: c.Chain.Store.FolderOf(c.Log)));
        foreach (var group in groups)
        {
            var log = group.Key.Log;
            var folds = group.Select(c => c.Chain).ToList();
            var wanted = folds.Select(f => (Fold: f, Plan: f.Prepare())).Where(w => w.Plan.From <= w.Plan.To).ToList();
            if (wanted.Count > 0)
            {
                var first = wanted.MinBy(w => w.Plan.From);
                var to = wanted.Max(w => w.Plan.To);
                var readers = wanted.Select(w => w.Fold).ToList();
                var store = first.Fold.Store;
                if (first.Fold.Other)
                {
                    Feed(readers, ReplicaChains.ReadWholeAt(store, log, first.Plan.From, first.Plan.Resume), cancellationToken);
                }
                else
                {
                    var (from, resume) = (first.Plan.From, first.Plan.Resume);
                    var held = new List<(LogEntry Entry, LogPosition At)>();
                    foreach (var follower in readers.Select(r => r.Follower).OfType<LogFollower>().Distinct())
                    {
                        // One follower per set of aggregates: the first that holds the run feeds it; the others drop it.
                        if (held.Count == 0)
                        {
                            follower.Take(from, to, int.MaxValue, held);
                        }
                        else
                        {
                            follower.Take(from, to, int.MaxValue, []);
                        }
                    }

                    if (held.Count > 0)
                    {
                        Feed(readers, held, cancellationToken);
                        (from, resume) = (held[^1].Entry.Sequence + 1, held[^1].At);
                    }

                    if (from <= to)
                    {
                        try
                        {
                            Feed(readers, store.ReadEntriesAt(log, from, to, resume), cancellationToken);
                        }
                        catch (FileNotFoundException)
                        {
                            // The live segment was archived meanwhile: go on from the archive.
                            Feed(readers, store.ReadEntriesAt(log, readers.Min(r => r.NextSequence), to), cancellationToken);
                        }
                    }
                }
            }

            foreach (var fold in folds)
            {
                fold.Done();
            }
        }
    }

    private static void Feed(List<IChainFold> folds, IEnumerable<(LogEntry Entry, LogPosition At)> entries, CancellationToken cancellationToken)
    {
        foreach (var (entry, at) in entries)
        {
            // Between two entries, so what was folded stays whole (a stopping node does not wait for a rebuild).
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var fold in folds)
            {
                fold.Offer(entry, at);
            }
        }
    }
}

/// <summary>The files <see cref="ChainAggregates{T}"/> keep in a log folder.</summary>
public static class ChainAggregateFiles
{
    /// <summary>The evaluation's aggregates (<c>Evaluation/EvaluationIndex</c>), in the exchange and the change log's folders.</summary>
    public const string Evaluation = "evaluation";

    private static readonly string[] Names = [ExchangeStatistics.FileName, Evaluation];

    /// <summary>Whether a file of a log folder is such an aggregate (a cache of the chain: never backed up, rebuilt after a restore).</summary>
    public static bool IsDerived(string name) =>
        Names.Any(n => name == n || name.StartsWith(n + ".", StringComparison.Ordinal));
}

/// <summary>
/// One <typeparamref name="T"/> per chain of a log — this process's own and, with several replicas,
/// every other replica's (<see cref="ReplicaChains"/>) — kept up to date by tailing each chain:
/// <see cref="CatchUp"/> folds only the entries made durable since the last call, so an answer
/// never reads the history again. Each aggregate is persisted in this replica's own log folder
/// (<c>logs/&lt;log&gt;/&lt;file&gt;</c>, another replica's chain's as <c>&lt;file&gt;.&lt;replica&gt;</c>; never
/// written into the other's folder) behind a header naming the last entry it covers: its
/// sequence, hash, and where it begins (segment and byte offset). A start reads that one entry
/// (a seek; a decompression up to it when its segment was archived since), not the chain from its
/// beginning, and folds only what follows. A file that is missing, torn, of another format, or
/// whose entry the chain no longer has (restored, replaced, another chain) is rebuilt from the
/// chain. The files are a cache: deleting them is always safe, and backups leave them out
/// (<see cref="ChainAggregateFiles.IsDerived"/>).
/// </summary>
public sealed class ChainAggregates<T> : ITailedAggregates, IDisposable
    where T : class, IChainAggregate
{
    /// <summary>Save after at least this many newly folded entries (and at stop)...</summary>
    private const long SaveEvery = 10_000;

    /// <summary>
    /// ...and at most this often. A save rewrites the whole aggregate, which grows with the history
    /// it covers (a week of exchange ids, every day's buckets), while folding an entry costs the
    /// same at any size: under steady traffic, saving every 10,000 entries made each exchange pay
    /// for ever larger rewrites (about a sixth of the node's CPU on one-row pulls in the load
    /// benchmark). Once a minute bounds what a crash re-folds at start to a minute of traffic.
    /// </summary>
    private static readonly TimeSpan SaveInterval = TimeSpan.FromMinutes(1);

    private readonly LogKind _log;
    private readonly string _fileName;
    private readonly string _what;
    private readonly Func<T> _create;
    private readonly Func<ReadOnlyMemory<byte>, T?> _load;
    private readonly ILogger _logger;
    private readonly Chain _own;
    private readonly ReplicaChains? _chains;
    private readonly Dictionary<string, Chain> _others = new(StringComparer.Ordinal);

    /// <param name="log">The log whose chains are folded.</param>
    /// <param name="store">The own chain's store.</param>
    /// <param name="durableSequence">How far the own chain may be read (its writer's durable sequence).</param>
    /// <param name="chains">The other replicas' chains, or null for the own chain only.</param>
    /// <param name="fileName">The persisted file's name in the log's folder (see <see cref="ChainAggregateFiles.IsDerived"/>).</param>
    /// <param name="what">What the aggregate is, for the log messages.</param>
    /// <param name="create">A new, empty aggregate.</param>
    /// <param name="load">An aggregate read back from <see cref="IChainAggregate.Serialize"/>'s bytes; null when they do not read.</param>
    /// <param name="logger">Where a rebuild and a failed save are logged (events 6023, 6024).</param>
    /// <param name="follower">The own chain's writer's hand-over of the entries it makes durable (<see cref="LogWriter.Follow"/>), so they are folded without being read back; null to read the chain only. Disposed with this.</param>
    public ChainAggregates(LogKind log, LogStore store, Func<long> durableSequence, ReplicaChains? chains, string fileName, string what,
        Func<T> create, Func<ReadOnlyMemory<byte>, T?> load, ILogger logger, LogFollower? follower = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(durableSequence);
        _log = log;
        _fileName = fileName;
        _what = what;
        _create = create;
        _load = load;
        _logger = logger;
        _chains = chains;
        _own = new Chain(this, store, durableSequence, Path.Combine(store.FolderOf(log), fileName)) { Follower = follower };
    }

    /// <summary>True when the last load of the own chain's aggregate found no usable file and rebuilt it from the chain.</summary>
    public bool Rebuilt => _own.Rebuilt;

    /// <summary>True when the last load of the own chain's aggregate read its file and checked the one entry it names.</summary>
    public bool LoadedFromFile => _own.LoadedFromFile;

    /// <summary>Why the own chain's aggregate was last rebuilt (as logged, event 6023), or null.</summary>
    public string? RebuiltBecause => _own.RebuiltBecause;

    /// <inheritdoc/>
    public LogKind Log => _log;

    /// <inheritdoc/>
    public LogFollower? Follower => _own.Follower;

    /// <summary>How many entries were folded since this was created, over every chain (for the warm-up's log).</summary>
    public long Folded { get; private set; }

    /// <inheritdoc/>
    public IReadOnlyList<IChainFold> Chains()
    {
        var chains = new List<IChainFold> { _own };
        foreach (var chain in _chains?.Others() ?? [])
        {
            if (!_others.TryGetValue(chain.Replica, out var other))
            {
                var path = Path.Combine(_own.Store.FolderOf(_log), $"{_fileName}.{chain.Replica}");
                other = _others[chain.Replica] = new Chain(this, chain.Store, null, path);
            }

            chains.Add(other);
        }

        return chains;
    }

    /// <summary>
    /// Every chain's aggregate with what is durable now folded in: the own chain's first, then the
    /// other replicas' in name order. Not thread-safe: the caller holds one lock around this and its
    /// use of the aggregates. <paramref name="cancellationToken"/> stops a long fold between two
    /// entries (<see cref="OperationCanceledException"/>): what was folded stays, whole, and the
    /// next call goes on from there. (<see cref="LogTail.CatchUp"/> does the same for several sets at once, with one read.)
    /// </summary>
    public IReadOnlyList<T> CatchUp(CancellationToken cancellationToken = default)
    {
        LogTail.CatchUp([this], cancellationToken);
        return [.. Chains().Select(c => ((Chain)c).Aggregate)];
    }

    /// <summary>Writes each aggregate that moved since its last save.</summary>
    public void Save()
    {
        _own.Save();
        foreach (var other in _others.Values)
        {
            other.Save();
        }
    }

    public void Dispose()
    {
        _own.Follower?.Dispose();
        try
        {
            Save();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A cache: the next start rebuilds or folds the rest.
            LogsDiagnostics.AggregateNotSaved(_logger, e, _what, _own.Path);
        }
    }

    /// <summary>The aggregate of one chain. <c>durable</c> null: another replica's chain, read as far as it is whole.</summary>
    private sealed class Chain(ChainAggregates<T> owner, LogStore store, Func<long>? durable, string path) : IChainFold
    {
        /// <summary>
        /// The header's format: <c>govshare-aggregate/2 &lt;seq&gt; &lt;hash&gt; &lt;segment first seq&gt; &lt;byte offset&gt; &lt;SHA-256 of the body&gt;</c>,
        /// then the body (<see cref="AggregateWriter"/>). Format 1 (no checksum, a JSON body) is not read: the file is a
        /// cache, so it is rebuilt from the chain once and saved in format 2.
        /// </summary>
        private const string Magic = "govshare-aggregate/2";

        private const string FormerMagic = "govshare-aggregate/1";

        private T? _aggregate;
        private LogPosition _at;
        private long _savedSequence;
        private long _savedAt;
        private (string? Segment, long Length) _folded;
        private (string? Segment, long Length)? _reading;

        public LogStore Store { get; } = store;

        public string Path { get; } = path;

        public bool Rebuilt { get; private set; }

        public bool LoadedFromFile { get; private set; }

        public string? RebuiltBecause { get; private set; }

        public bool Other => durable is null;

        public LogFollower? Follower { get; init; }

        public T Aggregate => _aggregate ??= Load();

        public long NextSequence => Aggregate.Sequence + 1;

        public void Save()
        {
            if (_aggregate is { } aggregate && aggregate.Sequence != _savedSequence && Directory.Exists(System.IO.Path.GetDirectoryName(Path)))
            {
                var body = aggregate.Serialize();
                var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{Magic} {aggregate.Sequence} {aggregate.Hash} {_at.SegmentFirstSeq} {_at.Offset} {Convert.ToHexStringLower(SHA256.HashData(body))}\n"));
                LogStore.ReplaceFile(Path, header, body);
                _savedSequence = aggregate.Sequence;
                _savedAt = Stopwatch.GetTimestamp();
            }
        }

        public (long From, long To, LogPosition? Resume) Prepare()
        {
            var aggregate = Aggregate;
            _reading = null;
            if (durable is null)
            {
                // Another replica's chain: it alone writes it; fold what follows, as far as the chain is whole.
                // A chain that has not grown since (a replica that is gone, most of them after years of
                // rollouts) is not read again: its live segment is the same file at the same length.
                var segments = Store.Segments(owner._log);
                var live = segments.Count > 0 ? segments[^1].Path : null;
                var now = (live, live is not null && File.Exists(live) ? new FileInfo(live).Length : 0);
                if (now == _folded)
                {
                    return (aggregate.Sequence + 1, aggregate.Sequence, null);
                }

                _reading = now;
                return (aggregate.Sequence + 1, long.MaxValue, Resume(aggregate));
            }

            var top = durable();
            if (top < aggregate.Sequence)
            {
                // The chain is shorter than what was folded: it was replaced; start over.
                aggregate = _aggregate = Rebuild($"the {LogEntry.LogName(owner._log)} log is shorter than what was folded");
            }

            return (aggregate.Sequence + 1, top, Resume(aggregate));
        }

        public void Offer(LogEntry entry, LogPosition at)
        {
            var aggregate = Aggregate;
            if (entry.Sequence <= aggregate.Sequence)
            {
                // One this aggregate folded already (another of the chain was behind it), or the entry a read resumed at.
                return;
            }

            aggregate.Fold(entry);
            _at = at;
            owner.Folded++;
        }

        public void Done()
        {
            if (_reading is { } read)
            {
                _folded = read;
                _reading = null;
            }

            if (_aggregate is { } aggregate && aggregate.Sequence - _savedSequence >= SaveEvery
                && (_savedAt == 0 || Stopwatch.GetElapsedTime(_savedAt) >= SaveInterval))
            {
                Save();
            }
        }

        // Where the last folded entry begins, so the next catch-up reads on from there (none before the first).
        private LogPosition? Resume(T aggregate) => aggregate.Sequence > 0 ? _at : null;

        private T Load()
        {
            LoadedFromFile = false;
            if (!File.Exists(Path))
            {
                return Rebuild("no saved file");
            }

            var bytes = File.ReadAllBytes(Path);
            var newline = Array.IndexOf(bytes, (byte)'\n');
            var header = newline > 0 ? Encoding.ASCII.GetString(bytes, 0, Math.Min(newline, 256)).Split(' ') : [];
            if (header is [FormerMagic, ..])
            {
                return Rebuild("the saved file is of format 1 (JSON, no checksum); rebuilt once in format 2");
            }

            if (header.Length != 6 || header[0] != Magic
                || !long.TryParse(header[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                || !long.TryParse(header[3], NumberStyles.None, CultureInfo.InvariantCulture, out var segment)
                || !long.TryParse(header[4], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                return Rebuild("the saved file's header is torn or of another format");
            }

            var body = bytes.AsMemory(newline + 1);
            if (!string.Equals(header[5], Convert.ToHexStringLower(SHA256.HashData(body.Span)), StringComparison.Ordinal))
            {
                return Rebuild("the saved file is damaged (its checksum does not match)");
            }

            if (owner._load(body) is not { } loaded || loaded.Sequence != sequence || loaded.Hash != header[2])
            {
                return Rebuild("the saved file's body is of an unknown version or does not read");
            }

            if (loaded.Sequence > 0)
            {
                // The one entry the file covers last, read where it begins: not the chain from its start.
                var entry = durable is null || loaded.Sequence <= durable()
                    ? Store.ReadEntryAt(owner._log, new LogPosition(segment, offset))
                    : null;
                if (entry is null || entry.Sequence != loaded.Sequence || entry.Hash != loaded.Hash || !entry.HashMatches)
                {
                    return Rebuild($"the {LogEntry.LogName(owner._log)} log does not have the saved hash at the saved sequence and place");
                }
            }

            _at = new LogPosition(segment, offset);
            _savedSequence = loaded.Sequence;
            Rebuilt = false;
            RebuiltBecause = null;
            LoadedFromFile = true;
            return loaded;
        }

        private T Rebuild(string why)
        {
            LogsDiagnostics.AggregateRebuilt(owner._logger, owner._what, LogEntry.LogName(owner._log), why);
            Rebuilt = true;
            RebuiltBecause = why;
            _savedSequence = -1;
            _at = default;
            return owner._create();
        }
    }
}
