using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Logs;

/// <summary>
/// The node's service statistics: one <see cref="StatisticsAggregate"/> per exchange-log chain,
/// kept up to date by tailing it (each answer first folds the entries appended since the last),
/// answered together (<see cref="StatisticsAggregate.Query(IReadOnlyList{StatisticsAggregate}, StatisticsDimension, StatisticsPeriod, DateOnly?, DateOnly?)"/>).
/// The chains are this process's own and, with several replicas, every other replica's
/// (<see cref="ReplicaChains"/>), so every replica answers for the whole node.
/// Each aggregate is persisted with the sequence and hash it covers, so a start reads that file and
/// folds only the newer entries; when the file is missing, torn, of another format, or the chain no
/// longer has that hash at that sequence (restored, replaced), it is rebuilt from the chain. The
/// own chain's is <c>logs/exchange/statistics</c>, another replica's
/// <c>logs/exchange/statistics.&lt;replica&gt;</c> in this replica's folder (never written into the
/// other's). The files are a cache: deleting them is always safe.
/// </summary>
public sealed class ExchangeStatistics : IDisposable
{
    /// <summary>File name of the persisted aggregate inside the exchange log's folder.</summary>
    public const string FileName = "statistics";

    /// <summary>Save after this many newly folded entries (and at stop), so a crash re-folds at most this many.</summary>
    private const long SaveEvery = 10_000;

    private readonly ChainStatistics _own;
    private readonly ReplicaChains? _chains;
    private readonly Dictionary<string, ChainStatistics> _others = new(StringComparer.Ordinal);
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    public ExchangeStatistics(LogWriter writer, ILogger<ExchangeStatistics>? logger = null)
        : this((writer ?? throw new ArgumentNullException(nameof(writer))).Store, () => writer.DurableSequence(LogKind.Exchange), logger)
    {
    }

    /// <summary>Over this process's chain and every other replica's (<paramref name="chains"/>).</summary>
    public ExchangeStatistics(ReplicaChains chains, ILogger<ExchangeStatistics>? logger = null)
        : this((chains ?? throw new ArgumentNullException(nameof(chains))).Own.Store, () => chains.Own.DurableSequence(LogKind.Exchange), logger) => _chains = chains;

    /// <summary>Over any exchange-log chain (<paramref name="durableSequence"/> = how far it may be read).</summary>
    public ExchangeStatistics(LogStore store, Func<long> durableSequence, ILogger<ExchangeStatistics>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(durableSequence);
        _logger = logger ?? NullLogger<ExchangeStatistics>.Instance;
        _own = new ChainStatistics(store, durableSequence, Path.Combine(store.FolderOf(LogKind.Exchange), FileName), _logger);
    }

    /// <summary>True when the last load of the own chain's aggregate found no usable file and rebuilt it from the chain (for tests and logs).</summary>
    public bool Rebuilt => _own.Rebuilt;

    /// <summary>The statistics over every durable exchange record of every chain (see <see cref="LogStatistics"/>).</summary>
    public IReadOnlyList<ServiceStatistic> Query(StatisticsDimension dimension, StatisticsPeriod period, DateOnly? from = null, DateOnly? to = null)
    {
        lock (_lock)
        {
            var parts = new List<StatisticsAggregate> { _own.CatchUp() };
            foreach (var chain in _chains?.Others() ?? [])
            {
                if (!_others.TryGetValue(chain.Replica, out var other))
                {
                    var path = Path.Combine(_own.Store.FolderOf(LogKind.Exchange), $"{FileName}.{chain.Replica}");
                    other = _others[chain.Replica] = new ChainStatistics(chain.Store, null, path, _logger);
                }

                parts.Add(other.CatchUp());
            }

            return StatisticsAggregate.Query(parts, dimension, period, from, to);
        }
    }

    /// <summary>Writes each aggregate that moved since its last save.</summary>
    public void Save()
    {
        lock (_lock)
        {
            _own.Save();
            foreach (var other in _others.Values)
            {
                other.Save();
            }
        }
    }

    public void Dispose()
    {
        try
        {
            Save();
        }
        catch (IOException e)
        {
            // A cache: the next start rebuilds or folds the rest.
            LogsDiagnostics.StatisticsNotSaved(_logger, e, _own.Path);
        }
    }

    /// <summary>The aggregate of one chain. <c>durable</c> null: another replica's chain, read as far as it is whole.</summary>
    private sealed class ChainStatistics(LogStore store, Func<long>? durable, string path, ILogger logger)
    {
        private StatisticsAggregate? _aggregate;
        private long _savedSequence;
        private (string? Segment, long Length) _folded;

        public LogStore Store { get; } = store;

        public string Path { get; } = path;

        public bool Rebuilt { get; private set; }

        public void Save()
        {
            if (_aggregate is { } aggregate && aggregate.Sequence != _savedSequence && Directory.Exists(System.IO.Path.GetDirectoryName(Path)))
            {
                LogStore.ReplaceFile(Path, aggregate.Serialize());
                _savedSequence = aggregate.Sequence;
            }
        }

        public StatisticsAggregate CatchUp()
        {
            var aggregate = _aggregate ??= Load();
            if (durable is null)
            {
                // Another replica's chain: it alone writes it; fold what follows, as far as the chain is whole.
                // A chain that has not grown since (a replica that is gone, most of them after years of
                // rollouts) is not read again: its live segment is the same file at the same length.
                var segments = Store.Segments(LogKind.Exchange);
                var live = segments.Count > 0 ? segments[^1].Path : null;
                var now = (live, live is not null && File.Exists(live) ? new FileInfo(live).Length : 0);
                if (now != _folded)
                {
                    foreach (var entry in ReplicaChains.ReadWhole(Store, LogKind.Exchange, aggregate.Sequence + 1))
                    {
                        aggregate.Fold(entry);
                    }

                    _folded = now;
                }
            }
            else
            {
                var top = durable();
                if (top < aggregate.Sequence)
                {
                    // The chain is shorter than what was folded: it was replaced; start over.
                    aggregate = _aggregate = Rebuild("the exchange log is shorter than the statistics");
                }

                if (top > aggregate.Sequence)
                {
                    foreach (var entry in Store.ReadEntries(LogKind.Exchange, aggregate.Sequence + 1, top))
                    {
                        aggregate.Fold(entry);
                    }
                }
            }

            if (aggregate.Sequence - _savedSequence >= SaveEvery)
            {
                LogStore.ReplaceFile(Path, aggregate.Serialize());
                _savedSequence = aggregate.Sequence;
            }

            return aggregate;
        }

        private StatisticsAggregate Load()
        {
            if (!File.Exists(Path))
            {
                return Rebuild("no statistics file");
            }

            var loaded = StatisticsAggregate.TryLoad(File.ReadAllBytes(Path), LogStatistics.ChinaStandardTime);
            if (loaded is null)
            {
                return Rebuild("the statistics file is torn or of another format");
            }

            if (loaded.Sequence > 0)
            {
                var entry = durable is null || loaded.Sequence <= durable()
                    ? ReplicaChains.ReadWhole(Store, LogKind.Exchange, loaded.Sequence).FirstOrDefault()
                    : null;
                if (entry is null || entry.Sequence != loaded.Sequence || entry.Hash != loaded.Hash)
                {
                    return Rebuild("the exchange log does not have the statistics' hash at their sequence");
                }
            }

            _savedSequence = loaded.Sequence;
            Rebuilt = false;
            return loaded;
        }

        private StatisticsAggregate Rebuild(string why)
        {
            LogsDiagnostics.StatisticsRebuilt(logger, why);
            Rebuilt = true;
            _savedSequence = -1;
            return new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        }
    }
}
