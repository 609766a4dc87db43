using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Logs;

/// <summary>
/// The node's service statistics: one <see cref="StatisticsAggregate"/> per exchange-log chain,
/// kept up to date by tailing it (each answer first folds the entries appended since the last),
/// answered together (<see cref="StatisticsAggregate.Query(IReadOnlyList{StatisticsAggregate}, StatisticsDimension, StatisticsPeriod, DateOnly?, DateOnly?)"/>).
/// The chains are this process's own and, with several replicas, every other replica's
/// (<see cref="ReplicaChains"/>), so every replica answers for the whole node. Persistence,
/// the check at start and the rebuild are <see cref="ChainAggregates{T}"/>'s: the own chain's
/// file is <c>logs/exchange/statistics</c>, another replica's <c>logs/exchange/statistics.&lt;replica&gt;</c>.
/// </summary>
public sealed class ExchangeStatistics : ILogAggregates, IDisposable
{
    /// <summary>File name of the persisted aggregate inside the exchange log's folder.</summary>
    public const string FileName = "statistics";

    private readonly ChainAggregates<StatisticsAggregate> _chains;
    private readonly Lock _lock = new();

    /// <summary>Over <paramref name="writer"/>'s chain, fed what it makes durable in memory (<see cref="LogWriter.Follow"/>).</summary>
    public ExchangeStatistics(LogWriter writer, ILogger<ExchangeStatistics>? logger = null)
        : this((writer ?? throw new ArgumentNullException(nameof(writer))).Store, () => writer.DurableSequence(LogKind.Exchange), null, logger, writer.Follow(LogKind.Exchange))
    {
    }

    /// <summary>Over this process's chain (fed in memory, as above) and every other replica's (<paramref name="chains"/>).</summary>
    public ExchangeStatistics(ReplicaChains chains, ILogger<ExchangeStatistics>? logger = null)
        : this((chains ?? throw new ArgumentNullException(nameof(chains))).Own.Store, () => chains.Own.DurableSequence(LogKind.Exchange), chains, logger, chains.Own.Follow(LogKind.Exchange))
    {
    }

    /// <summary>Over any exchange-log chain (<paramref name="durableSequence"/> = how far it may be read), read from its files.</summary>
    public ExchangeStatistics(LogStore store, Func<long> durableSequence, ILogger<ExchangeStatistics>? logger = null)
        : this(store, durableSequence, null, logger, null)
    {
    }

    private ExchangeStatistics(LogStore store, Func<long> durableSequence, ReplicaChains? chains, ILogger? logger, LogFollower? follower) =>
        _chains = new ChainAggregates<StatisticsAggregate>(
            LogKind.Exchange, store, durableSequence, chains, FileName, "exchange statistics",
            () => new StatisticsAggregate(LogStatistics.ChinaStandardTime),
            bytes => StatisticsAggregate.TryLoad(bytes.Span, LogStatistics.ChinaStandardTime),
            logger ?? NullLogger.Instance, follower);

    /// <summary>True when the last load of the own chain's aggregate found no usable file and rebuilt it from the chain (for tests and logs).</summary>
    public bool Rebuilt => _chains.Rebuilt;

    /// <summary>
    /// The statistics over every durable exchange record of every chain (see <see cref="LogStatistics"/>).
    /// Throws <see cref="AggregatesNotReadyException"/> while the warm-up's first fold runs (<see cref="FirstFold"/>).
    /// </summary>
    public IReadOnlyList<ServiceStatistic> Query(StatisticsDimension dimension, StatisticsPeriod period, DateOnly? from = null, DateOnly? to = null)
    {
        FirstFold.Await(What);
        lock (_lock)
        {
            return StatisticsAggregate.Query(_chains.CatchUp(), dimension, period, from, to);
        }
    }

    public string What => "exchange statistics";

    /// <inheritdoc/>
    public Lock Lock => _lock;

    /// <inheritdoc/>
    public IReadOnlyList<ITailedAggregates> Tailed => [_chains];

    /// <inheritdoc/>
    public FirstFold FirstFold { get; } = new();

    /// <summary>Loads (or rebuilds) every chain's aggregate and folds what is durable now; returns the entries folded. Cancelled between two entries.</summary>
    public long CatchUp(CancellationToken cancellationToken) => LogAggregates.CatchUp([this], cancellationToken)[0];

    /// <summary>Writes each aggregate that moved since its last save.</summary>
    public void Save()
    {
        lock (_lock)
        {
            _chains.Save();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _chains.Dispose();
        }
    }
}
