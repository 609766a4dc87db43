using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Logs;

/// <summary>
/// The node's <see cref="StatisticsAggregate"/> over its own exchange-log chain, kept up to date
/// by tailing the chain: each answer first folds the entries made durable since the last one.
/// Persisted beside the chain in <c>logs/exchange/statistics</c> with the sequence and hash it
/// covers, so a start reads that file and folds only the newer entries; when the file is missing,
/// torn, of another format, or the chain no longer has that hash at that sequence (restored,
/// replaced), it is rebuilt from the chain. The file is a cache: deleting it is always safe.
/// </summary>
public sealed class ExchangeStatistics : IDisposable
{
    /// <summary>File name of the persisted aggregate inside the exchange log's folder.</summary>
    public const string FileName = "statistics";

    /// <summary>Save after this many newly folded entries (and at stop), so a crash re-folds at most this many.</summary>
    private const long SaveEvery = 10_000;

    private readonly LogStore _store;
    private readonly Func<long> _durable;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly string _path;
    private StatisticsAggregate? _aggregate;
    private long _savedSequence;

    public ExchangeStatistics(LogWriter writer, ILogger<ExchangeStatistics>? logger = null)
        : this((writer ?? throw new ArgumentNullException(nameof(writer))).Store, () => writer.DurableSequence(LogKind.Exchange), logger)
    {
    }

    /// <summary>Over any exchange-log chain (<paramref name="durableSequence"/> = how far it may be read).</summary>
    public ExchangeStatistics(LogStore store, Func<long> durableSequence, ILogger<ExchangeStatistics>? logger = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _durable = durableSequence ?? throw new ArgumentNullException(nameof(durableSequence));
        _logger = logger ?? NullLogger<ExchangeStatistics>.Instance;
        _path = Path.Combine(store.FolderOf(LogKind.Exchange), FileName);
    }

    /// <summary>True when the last load found no usable file and rebuilt from the chain (for tests and logs).</summary>
    public bool Rebuilt { get; private set; }

    /// <summary>The statistics over every durable exchange record (see <see cref="LogStatistics"/>).</summary>
    public IReadOnlyList<ServiceStatistic> Query(StatisticsDimension dimension, StatisticsPeriod period, DateOnly? from = null, DateOnly? to = null)
    {
        lock (_lock)
        {
            return CatchUp().Query(dimension, period, from, to);
        }
    }

    /// <summary>Writes the aggregate if it moved since the last save.</summary>
    public void Save()
    {
        lock (_lock)
        {
            if (_aggregate is { } aggregate && aggregate.Sequence != _savedSequence && Directory.Exists(Path.GetDirectoryName(_path)))
            {
                LogStore.ReplaceFile(_path, aggregate.Serialize());
                _savedSequence = aggregate.Sequence;
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
            LogsDiagnostics.StatisticsNotSaved(_logger, e, _path);
        }
    }

    private StatisticsAggregate CatchUp()
    {
        var aggregate = _aggregate ??= Load();
        var top = _durable();
        if (top < aggregate.Sequence)
        {
            // The chain is shorter than what was folded: it was replaced; start over.
            aggregate = _aggregate = Rebuild("the exchange log is shorter than the statistics");
        }

        if (top > aggregate.Sequence)
        {
            foreach (var entry in _store.ReadEntries(LogKind.Exchange, aggregate.Sequence + 1, top))
            {
                aggregate.Fold(entry);
            }

            if (aggregate.Sequence - _savedSequence >= SaveEvery)
            {
                LogStore.ReplaceFile(_path, aggregate.Serialize());
                _savedSequence = aggregate.Sequence;
            }
        }

        return aggregate;
    }

    private StatisticsAggregate Load()
    {
        if (!File.Exists(_path))
        {
            return Rebuild("no statistics file");
        }

        var loaded = StatisticsAggregate.TryLoad(File.ReadAllBytes(_path), LogStatistics.ChinaStandardTime);
        if (loaded is null)
        {
            return Rebuild("the statistics file is torn or of another format");
        }

        if (loaded.Sequence > 0)
        {
            var entry = loaded.Sequence <= _durable() ? _store.ReadEntries(LogKind.Exchange, loaded.Sequence, loaded.Sequence).FirstOrDefault() : null;
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
        LogsDiagnostics.StatisticsRebuilt(_logger, why);
        Rebuilt = true;
        _savedSequence = -1;
        return new StatisticsAggregate(LogStatistics.ChinaStandardTime);
    }
}
