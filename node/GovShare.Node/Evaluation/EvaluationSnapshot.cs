using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using GovShare.Node.Requests;

namespace GovShare.Node.Evaluation;

/// <summary>
/// Where a figure or a violation comes from: one record of one of the node's logs.
/// <see cref="Log"/> is <c>exchange</c> or <c>change</c> (the hash-chained logs, addressed by
/// node, replica, log and sequence; <see cref="Replica"/> is null for a node of one process), or
/// <c>request-changes</c> (the requests ledger's gap-free sequence).
/// </summary>
public sealed record LogReference(string Node, string Log, long Sequence, string? ExchangeId, DateTimeOffset Time, string? Note = null, string? Replica = null);

/// <summary>One record of a hash-chained log with its address (the replica whose chain holds it, when the node runs as several).</summary>
public sealed record LoggedRecord(string Node, LogKind Log, long Sequence, LogRecord Record, string? Replica = null)
{
    public LogReference Reference(string? note = null) => new(Node, LogEntry.LogName(Log), Sequence, Record.ExchangeId, Record.Time, note, Replica);

    /// <summary>Writes the record to a saved aggregate (its log is the aggregate's own, so not written); read back by <see cref="ReadFrom"/>.</summary>
    internal void WriteTo(AggregateWriter w)
    {
        w.Text(Node);
        w.Number(Sequence);
        w.Record(Record);
        w.Text(Replica);
    }

    /// <summary>A record of <paramref name="log"/> written by <see cref="WriteTo"/>.</summary>
    internal static LoggedRecord ReadFrom(ref AggregateReader r, LogKind log) => new(r.Required(), log, r.Number(), r.Record(), r.Text());
}

/// <summary>A department the evaluation reports on.</summary>
public sealed record EvaluatedDepartment(string DivisionCode, string CreditCode, string Name, DateTimeOffset? RegisteredAt)
{
    public DepartmentRef Ref => new(DivisionCode, CreditCode, Name);
}

/// <summary>
/// Everything the evaluation reads, taken once: the exchange log and the catalog-change records
/// of the change log (durable records only), the catalog with retired entries, share requests,
/// disputes and the requests ledger, the registry. Figures are computed from this and nothing
/// else, so they can be recomputed from the same logs.
/// </summary>
public sealed class EvaluationSnapshot
{
    public required string Node { get; init; }

    public required DateTimeOffset Now { get; init; }

    public DateOnly Today => WorkingDayCalendar.ToChinaDate(Now);

    /// <summary>
    /// The exchange records, when the snapshot was taken by reading the log whole (<see cref="EvaluationSources.CaptureFull"/>,
    /// the definition every figure is tested against); empty when <see cref="Digest"/> was given.
    /// </summary>
    public IReadOnlyList<LoggedRecord> Exchanges { get; init; } = [];

    /// <summary>What the evaluation reads of the exchange log: given (incremental, <see cref="EvaluationIndex"/>), else computed from <see cref="Exchanges"/>.</summary>
    public ExchangeDigest Digest
    {
        get => _digest ??= ExchangeDigest.Scan(Exchanges);
        init => _digest = value;
    }

    private ExchangeDigest? _digest;

    /// <summary>Catalog-change records of the change log, in sequence order.</summary>
    public required IReadOnlyList<LoggedRecord> CatalogChanges { get; init; }

    /// <summary>The last sequence of the change log that was read.</summary>
    public long ChangeLogSequence { get; init; }

    public required IReadOnlyList<CatalogEntry> Catalog { get; init; }

    public required IReadOnlyList<ShareRequest> Requests { get; init; }

    public required IReadOnlyList<Dispute> Disputes { get; init; }

    /// <summary>Complaints (Art. 29) against the node's departments.</summary>
    public IReadOnlyList<Complaint> Complaints { get; init; } = [];

    public required IReadOnlyList<RequestChange> RequestChanges { get; init; }

    public required IReadOnlyList<EvaluatedDepartment> Departments { get; init; }

    /// <summary>The Art. 11 catalog-update deadlines the office's recorded duty changes started (<see cref="DutyChangeRegister"/>).</summary>
    public IReadOnlyList<CatalogUpdateDeadline> CatalogUpdates { get; init; } = [];

    /// <summary>Exchange ids of the published dataset versions, per resource and version number.</summary>
    public IReadOnlyDictionary<(string Resource, int Version), string> VersionExchanges { get; init; } = new Dictionary<(string, int), string>();

    /// <summary>The credit code a log URI names (a department), else the URI itself.</summary>
    public static string PartyKey(string uri) => CallerIdentity.TryParse(uri) is { CreditCode: { } code } ? code : uri;
}

/// <summary>Takes an <see cref="EvaluationSnapshot"/> from a running node's stores and logs.</summary>
public sealed class EvaluationSources(
    LogWriter logs,
    ReplicaChains chains,
    CatalogStore catalog,
    ShareRequestStore requests,
    DisputeStore disputes,
    ComplaintStore complaints,
    RequestLedger ledger,
    DepartmentRegistry registry,
    DatasetStore datasets,
    TimeProvider time,
    DutyChangeRegister duties,
    EvaluationIndex index)
{
    /// <summary>
    /// Computes <paramref name="use"/> over a snapshot whose log figures come from the incremental
    /// <see cref="EvaluationIndex"/> (only what was appended since the last request is read), held
    /// steady while <paramref name="use"/> runs.
    /// </summary>
    public T With<T>(Func<EvaluationSnapshot, T> use)
    {
        ArgumentNullException.ThrowIfNull(use);
        return index.Read((digest, changes, changeTop) => use(Capture(digest, [], changes, changeTop)));
    }

    /// <summary>A snapshot read from the logs whole: the definition of every figure (tests compare the incremental one with it; benchmarks time it).</summary>
    public EvaluationSnapshot CaptureFull()
    {
        var exchanges = Records(LogKind.Exchange, _ => true);
        var changeTop = logs.DurableSequence(LogKind.Change);
        var changes = Records(LogKind.Change, CatalogChangeAggregate.Kept, changeTop);
        return Capture(null, exchanges, changes, changeTop);
    }

    private EvaluationSnapshot Capture(ExchangeDigest? digest, IReadOnlyList<LoggedRecord> exchanges, IReadOnlyList<LoggedRecord> changes, long changeTop)
    {

        var entries = new List<CatalogEntry>();
        for (var page = 1; ; page++)
        {
            var found = catalog.ListResources(new CatalogQuery(Page: page, PageSize: CatalogQuery.MaxPageSize, IncludeRetired: true));
            entries.AddRange(found.Entries);
            if (entries.Count >= found.Total || found.Entries.Count == 0)
            {
                break;
            }
        }

        var departments = new Dictionary<string, EvaluatedDepartment>(StringComparer.Ordinal);
        foreach (var registered in registry.All())
        {
            departments[registered.CreditCode] = new(registered.DivisionCode, registered.CreditCode, registered.Name, registered.RegisteredAt);
        }

        foreach (var entry in entries)
        {
            departments.TryAdd(entry.Provider.CreditCode, new(entry.Provider.DivisionCode, entry.Provider.CreditCode, entry.Provider.Name ?? entry.Provider.CreditCode, null));
        }

        // Requests and disputes are held for providers of this node's catalog: list them as each provider would.
        var shareRequests = new Dictionary<string, ShareRequest>(StringComparer.Ordinal);
        var raised = new Dictionary<string, Dispute>(StringComparer.Ordinal);
        foreach (var provider in entries.Select(e => e.Provider).DistinctBy(p => p.Key))
        {
            var identity = CallerIdentity.Department(provider.DivisionCode, provider.CreditCode);
            foreach (var request in requests.List(identity, PartyRole.Provider))
            {
                shareRequests[request.Id] = request;
            }

            foreach (var dispute in disputes.List(identity, PartyRole.Provider))
            {
                raised[dispute.Id] = dispute;
            }
        }

        var ledgerChanges = new List<RequestChange>();
        long after = 0;
        while (true)
        {
            var batch = ledger.Changes.Read(after, 10_000);
            ledgerChanges.AddRange(batch);
            if (batch.Count < 10_000)
            {
                break;
            }

            after = batch[^1].Sequence;
        }

        var versions = new Dictionary<(string, int), string>();
        foreach (var code in entries.Select(e => e.ResourceCode))
        {
            foreach (var version in datasets.Versions(code))
            {
                versions[(code, version.Version)] = version.ExchangeId;
            }
        }

        return new EvaluationSnapshot
        {
            Node = logs.Node,
            Now = time.GetUtcNow(),
            Exchanges = exchanges,
            Digest = digest ?? ExchangeDigest.Scan(exchanges),
            CatalogChanges = changes,
            ChangeLogSequence = changeTop,
            Catalog = entries,
            Requests = [.. shareRequests.Values.OrderBy(r => r.SubmittedAt)],
            Disputes = [.. raised.Values.OrderBy(d => d.RaisedAt)],
            Complaints = [.. complaints.Snapshot().OrderBy(c => c.FiledAt)],
            RequestChanges = ledgerChanges,
            Departments = [.. departments.Values.OrderBy(d => d.CreditCode, StringComparer.Ordinal)],
            VersionExchanges = versions,
            CatalogUpdates = duties.Deadlines(WorkingDayCalendar.ToChinaDate(time.GetUtcNow())),
        };
    }

    /// <summary>
    /// The records of every chain of the node (<see cref="ReplicaChains"/>: this process's and, with
    /// several replicas, the others'), so exchanges and catalog changes made through any replica
    /// count. One chain is in sequence order; records of several are put in time order.
    /// </summary>
    private List<LoggedRecord> Records(LogKind log, Func<LogRecord, bool> keep, long? top = null)
    {
        var result = new List<LoggedRecord>();
        var replicas = new HashSet<string?>();
        foreach (var entry in chains.ReadAll(log, top ?? logs.DurableSequence(log)))
        {
            replicas.Add(entry.Replica);
            if (entry.Type == LogEntryType.Record && entry.Record is { } record && keep(record))
            {
                result.Add(new LoggedRecord(entry.Node, log, entry.Sequence, record, entry.Replica));
            }
        }

        return replicas.Count > 1
            ? [.. result.OrderBy(r => r.Record.Time).ThenBy(r => r.Replica, StringComparer.Ordinal).ThenBy(r => r.Sequence)]
            : result;
    }
}
