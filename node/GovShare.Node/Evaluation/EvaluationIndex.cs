using GovShare.Node.Logs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The catalog-change records of one change-log chain (what the evaluation reads of the change
/// log: maintenance, registration anchors, stale entries), folded one entry at a time. Few beside
/// the change log's other records (requests, grants, violations), so they are kept whole.
/// </summary>
public sealed class CatalogChangeAggregate : IChainAggregate
{
    /// <summary>The saved body's tag and version (<see cref="AggregateWriter"/>); 1 was JSON.</summary>
    private const string Tag = "catalog-changes";
    private const int FormatVersion = 2;

    private readonly List<LoggedRecord> _changes = [];

    public long Sequence { get; private set; }

    public string Hash { get; private set; } = LogEntry.GenesisHash;

    /// <summary>Catalog-change records with a resource code, in log order.</summary>
    public IReadOnlyList<LoggedRecord> Changes => _changes;

    /// <summary>Whether a change-log record is one the evaluation reads.</summary>
    public static bool Kept(LogRecord record) => record?.Kind == ExchangeKind.CatalogChange && record.ResourceCode is not null;

    public void Fold(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Sequence != Sequence + 1)
        {
            throw new ArgumentException($"Entry {entry.Sequence} does not follow folded sequence {Sequence}.", nameof(entry));
        }

        if (entry.Type == LogEntryType.Record && entry.Record is { } record && Kept(record))
        {
            _changes.Add(new LoggedRecord(entry.Node, LogKind.Change, entry.Sequence, record, entry.Replica));
        }

        Sequence = entry.Sequence;
        Hash = entry.Hash;
    }

    /// <summary>The aggregate in the saved format (<see cref="AggregateWriter"/>: each kept record field by field), for <see cref="TryLoad"/>.</summary>
    public byte[] Serialize()
    {
        var w = new AggregateWriter(Tag, FormatVersion);
        w.Number(Sequence);
        w.Text(Hash);
        w.Number(_changes.Count);
        foreach (var change in _changes)
        {
            change.WriteTo(w);
        }

        return w.Written.ToArray();
    }

    /// <summary>An aggregate read back from <see cref="Serialize"/>'s bytes; null when torn, of another aggregate or format version.</summary>
    public static CatalogChangeAggregate? TryLoad(ReadOnlySpan<byte> bytes)
    {
        var r = new AggregateReader(bytes, Tag, FormatVersion, out var matches);
        if (!matches)
        {
            return null;
        }

        try
        {
            var sequence = r.Number();
            var aggregate = new CatalogChangeAggregate
            {
                Sequence = sequence >= 0 ? sequence : throw new InvalidDataException("A negative sequence."),
                Hash = r.Required(),
            };
            for (var count = r.Count(); count > 0; count--)
            {
                var change = LoggedRecord.ReadFrom(ref r, LogKind.Change);
                aggregate._changes.Add(Kept(change.Record) ? change : throw new InvalidDataException("A kept record that is not a catalog change."));
            }

            return r.AtEnd ? aggregate : null;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>
/// The evaluation's view of the logs, kept incrementally: an <see cref="EvaluationAggregate"/> per
/// exchange-log chain and a <see cref="CatalogChangeAggregate"/> per change-log chain, of this
/// process and every other replica (<see cref="ReplicaChains"/>), each tailing its chain and saved
/// as <c>logs/exchange/evaluation</c> and <c>logs/change/evaluation</c> (<see cref="ChainAggregates{T}"/>:
/// a start reads the file and checks the one entry it names; rebuilt from the chain when missing,
/// torn or not of this chain). <see cref="Read{T}"/> holds one lock while a caller computes from
/// it, so the aggregates do not move under a scorecard.
/// </summary>
public sealed class EvaluationIndex : ILogAggregates, IDisposable
{
    private readonly ChainAggregates<EvaluationAggregate> _exchanges;
    private readonly ChainAggregates<CatalogChangeAggregate> _changes;
    private readonly Lock _lock = new();

    public EvaluationIndex(ReplicaChains chains, ILogger<EvaluationIndex>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(chains);
        var log = (ILogger?)logger ?? NullLogger.Instance;
        _exchanges = new ChainAggregates<EvaluationAggregate>(
            LogKind.Exchange, chains.Own.Store, () => chains.Own.DurableSequence(LogKind.Exchange), chains, ChainAggregateFiles.Evaluation, "evaluation's exchange figures",
            () => new EvaluationAggregate(), bytes => EvaluationAggregate.TryLoad(bytes.Span), log, chains.Own.Follow(LogKind.Exchange));
        _changes = new ChainAggregates<CatalogChangeAggregate>(
            LogKind.Change, chains.Own.Store, () => chains.Own.DurableSequence(LogKind.Change), chains, ChainAggregateFiles.Evaluation, "evaluation's catalog changes",
            () => new CatalogChangeAggregate(), bytes => CatalogChangeAggregate.TryLoad(bytes.Span), log, chains.Own.Follow(LogKind.Change));
    }

    /// <summary>Whether the last load of the own exchange chain's aggregate rebuilt it from the chain (for tests).</summary>
    public bool Rebuilt => _exchanges.Rebuilt;

    /// <summary>Whether the last load of the own exchange chain's aggregate came from its saved file (for tests).</summary>
    public bool LoadedFromFile => _exchanges.LoadedFromFile;

    /// <summary>
    /// Computes <paramref name="use"/> over every chain brought up to date: the exchange digest, the
    /// catalog changes (in log order; in time order over several chains) and the own change log's
    /// last sequence read.
    /// </summary>
    public T Read<T>(Func<ExchangeDigest, IReadOnlyList<LoggedRecord>, long, T> use)
    {
        ArgumentNullException.ThrowIfNull(use);
        // While the warm-up's first fold runs (minutes without a saved file), 503 rather than a wait on the lock.
        FirstFold.Await(What);
        lock (_lock)
        {
            var exchanges = _exchanges.CatchUp();
            var changes = _changes.CatchUp();
            IReadOnlyList<LoggedRecord> catalogChanges = changes.Count == 1
                ? changes[0].Changes
                : [.. changes.SelectMany(c => c.Changes).OrderBy(r => r.Record.Time).ThenBy(r => r.Replica, StringComparer.Ordinal).ThenBy(r => r.Sequence)];
            return use(EvaluationAggregate.Digest(exchanges), catalogChanges, changes[0].Sequence);
        }
    }

    public string What => "evaluation's aggregates";

    /// <inheritdoc/>
    public Lock Lock => _lock;

    /// <inheritdoc/>
    public IReadOnlyList<ITailedAggregates> Tailed => [_exchanges, _changes];

    /// <inheritdoc/>
    public FirstFold FirstFold { get; } = new();

    /// <summary>Loads (or rebuilds) every chain's aggregates and folds what is durable now; returns the entries folded. Cancelled between two entries.</summary>
    public long CatchUp(CancellationToken cancellationToken) => LogAggregates.CatchUp([this], cancellationToken)[0];

    public void Save()
    {
        lock (_lock)
        {
            _exchanges.Save();
            _changes.Save();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _exchanges.Dispose();
            _changes.Dispose();
        }
    }
}
