using System.Globalization;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using LiteDB;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using JsonSerializer = System.Text.Json.JsonSerializer;
using JsonValueKind = System.Text.Json.JsonValueKind;

namespace GovShare.Node.Requests;

/// <summary>Settings of the requests feature, section <c>Requests</c>.</summary>
public sealed class RequestsOptions
{
    public const string Section = "Requests";

    /// <summary>Working days a provider has to answer a dispute (Art. 27); 1 to 60.</summary>
    public int DisputeWorkingDays { get; set; } = 10;

    /// <summary>Working days the department complained of has to answer a complaint (Art. 29); 1 to 60.</summary>
    public int ComplaintWorkingDays { get; set; } = 10;
}

/// <summary>
/// Disputes of data (Art. 27) in the node's LiteDB (<c>disputes</c>): a user raises one on a
/// resource and data version; the provider answers corrected (naming the correcting version)
/// or rejected (with a reason) by the due day. Transitions run through the <see cref="RequestLedger"/>.
/// </summary>
public sealed partial class DisputeStore
{
    private readonly IStateDocuments<DisputeDocument> _disputes;
    private readonly CatalogStore _catalog;
    private readonly ShareRequestStore _requests;
    private readonly RequestLedger _ledger;
    private readonly WorkingDayCalendar _calendar;
    private readonly TimeProvider _time;
    private readonly int _workingDays;
    private readonly IPublishedVersions _versions;
    private readonly ReplicaChains _exchanges;
    private readonly ILogger _logger;

    public DisputeStore(NodeDataFolder data, CatalogStore catalog, ShareRequestStore requests, RequestLedger ledger, WorkingDayCalendar calendar,
        TimeProvider time, IOptions<RequestsOptions> options, IPublishedVersions versions, ReplicaChains exchanges, ILogger<DisputeStore> logger)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        _disputes = data.Collection<DisputeDocument>("disputes", d => d.User, d => d.Provider, d => d.Status);
        _catalog = catalog;
        _requests = requests;
        _ledger = ledger;
        _calendar = calendar;
        _time = time;
        _workingDays = options.Value.DisputeWorkingDays;
        _versions = versions;
        _exchanges = exchanges;
        _logger = logger;
    }

    /// <summary>The user flags data of another department's shared resource.</summary>
    public RequestResult<Dispute> Raise(DisputeInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<CatalogValidationError>();
        var entry = ShareRequestStore.OthersSharedResource(_catalog, input.ResourceCode, caller, "a provider corrects its own data; it does not dispute it", errors, out var refusal);
        if (refusal is { } resourceRefused)
        {
            return RequestResult<Dispute>.Refused(resourceRefused.Outcome, resourceRefused.Reason);
        }

        if (Version(errors, "dataVersion", input.DataVersion) is { } disputed && entry is not null)
        {
            // Art. 27: a dispute names data the user could have read. Versions are numbered from 1 without
            // gaps, so every number up to the latest was published (older ones may since be pruned).
            var latest = _versions.Latest(entry.ResourceCode);
            if (latest is null || disputed > latest)
            {
                errors.Add(new("dataVersion", "version.unknown", latest is null
                    ? $"no data of {entry.ResourceCode} has been pushed; there is no version to dispute"
                    : $"{entry.ResourceCode} has no data version {disputed}; the latest is {latest}"));
            }
        }

        if (input.Kind is null)
        {
            errors.Add(new("kind", "required", "the kind is 'doubtful' or 'wrong'"));
        }

        RequestChecks.Text(errors, "description", input.Description);
        var rowKeys = input.RowKeys ?? [];
        if (rowKeys.Count > RequestChecks.MaxRowKeys)
        {
            errors.Add(new("rowKeys", "tooMany", $"{rowKeys.Count} row keys; at most {RequestChecks.MaxRowKeys}"));
        }

        for (var i = 0; i < Math.Min(rowKeys.Count, RequestChecks.MaxRowKeys); i++)
        {
            if (string.IsNullOrWhiteSpace(rowKeys[i]) || rowKeys[i].Length > RequestChecks.MaxShort)
            {
                errors.Add(new($"rowKeys[{i}]", "rowKey.invalid", $"a row key is 1 to {RequestChecks.MaxShort} characters"));
            }
        }

        var items = input.Items is { Count: > 0 } && entry is not null
            ? RequestChecks.GrantedItems(errors, [.. input.Items.Select(i => new DecidedItem(i))], CatalogViews.ForSharing(entry), null).Select(g => g.ItemId).ToList()
            : [];
        if (input.Kind == DisputeKind.Inconsistent)
        {
            if (Comparison(input, entry, items, rowKeys, caller, errors) is { } refused)
            {
                return refused;
            }
        }
        else if (input.ComparisonId is not null)
        {
            errors.Add(new("comparisonId", "comparison.notInconsistent", "only an 'inconsistent' dispute names a comparison"));
        }

        if (errors.Count > 0)
        {
            return RequestResult<Dispute>.Invalid(errors);
        }

        var now = _time.GetUtcNow();
        var due = CaseDeadline.Due(_calendar, now, _workingDays, out var provisional);
        var dispute = new Dispute("dsp-" + Guid.NewGuid().ToString("N"), _requests.Party(caller.DivisionCode, caller.CreditCode!), entry!.Provider, entry.ResourceCode,
            input.DataVersion!, input.Kind!.Value, [.. rowKeys], items, input.Description!, now, due, provisional, DisputeStatus.Open,
            ComparisonId: input.Kind == DisputeKind.Inconsistent ? input.ComparisonId : null);
        return _ledger.Write(() =>
        {
            Write(dispute);
            _ledger.Record(RequestSubject.Dispute, dispute, dispute.Id, dispute.ResourceCode, null, DisputeStatus.Open, caller.Uri, now,
                dispute.ComparisonId is null ? $"data version {dispute.DataVersion}; due {due:yyyy-MM-dd}" : $"inconsistency found by comparison {dispute.ComparisonId}; data version {dispute.DataVersion}; due {due:yyyy-MM-dd}");
            Log.Raised(_logger, dispute.Id, caller.Uri, dispute.ResourceCode);
            return new RequestResult<Dispute>(RequestOutcome.Created, Flag(dispute, WorkingDayCalendar.ToChinaDate(now)));
        });
    }

    /// <summary>The provider's answer; one only.</summary>
    public RequestResult<Dispute> Answer(string id, DisputeAnswerInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        return _ledger.Write(() =>
        {
            var dispute = Find(id);
            if (dispute is null)
            {
                return RequestResult<Dispute>.Refused(RequestOutcome.NotFound, "no such dispute");
            }

            if (!ShareRequestStore.IsParty(dispute.Provider, caller))
            {
                return RequestResult<Dispute>.Refused(RequestOutcome.Forbidden, "only the providing department answers a dispute of its data");
            }

            if (dispute.Status != DisputeStatus.Open)
            {
                return RequestResult<Dispute>.Refused(RequestOutcome.Conflict, $"the dispute is {ShareRequestStore.Name(dispute.Status)} already; it takes one answer only");
            }

            var errors = new List<CatalogValidationError>();
            PublishedVersion? correcting = null;
            switch (input.Outcome)
            {
                case DisputeStatus.Corrected:
                    // The correction is a push: the dispute points to the version it published, which must
                    // be later than the disputed data (a dispute raised before this check may name free text).
                    if (Version(errors, "correctingVersion", input.CorrectingVersion) is { } number)
                    {
                        correcting = _versions.Find(dispute.ResourceCode, number);
                        if (int.TryParse(dispute.DataVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var disputed) && number <= disputed)
                        {
                            errors.Add(new("correctingVersion", "version.notLater", $"the correction is a push after the disputed data version {disputed}; push the corrected data, then name its version"));
                        }
                        else if (correcting is null)
                        {
                            errors.Add(new("correctingVersion", "version.unknown", $"{dispute.ResourceCode} has no data version {number} held (latest: {_versions.Latest(dispute.ResourceCode)?.ToString(CultureInfo.InvariantCulture) ?? "none"}); push the corrected data first"));
                        }
                    }

                    if (input.Reason is { Length: > RequestChecks.MaxText })
                    {
                        errors.Add(new("reason", "tooLong", $"at most {RequestChecks.MaxText} characters"));
                    }

                    break;
                case DisputeStatus.Rejected:
                    RequestChecks.Text(errors, "reason", input.Reason);
                    break;
                default:
                    errors.Add(new("outcome", "required", "the outcome is 'corrected' or 'rejected'"));
                    break;
            }

            if (errors.Count > 0)
            {
                return RequestResult<Dispute>.Invalid(errors);
            }

            var now = _time.GetUtcNow();
            var today = WorkingDayCalendar.ToChinaDate(now);
            var outcome = input.Outcome!.Value;
            var answered = dispute with
            {
                Status = outcome,
                Answer = new DisputeAnswer(outcome, caller.Uri, now, dispute.IsOverdue(today),
                    outcome == DisputeStatus.Corrected ? correcting!.Version.ToString(CultureInfo.InvariantCulture) : null, input.Reason, correcting?.ExchangeId),
            };
            Write(answered);
            _ledger.Record(RequestSubject.Dispute, answered, id, dispute.ResourceCode, dispute.Status, outcome, caller.Uri, now,
                outcome == DisputeStatus.Corrected ? $"corrected by data version {correcting!.Version} (push {correcting.ExchangeId})" : "rejected");
            Log.Answered(_logger, id, caller.Uri, outcome);
            return new RequestResult<Dispute>(RequestOutcome.Ok, Flag(answered, today));
        });
    }

    /// <summary>One dispute, for either party.</summary>
    public RequestResult<Dispute> Get(string id, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var dispute = Find(id);
        if (dispute is null)
        {
            return RequestResult<Dispute>.Refused(RequestOutcome.NotFound, "no such dispute");
        }

        return ShareRequestStore.IsParty(dispute.User, caller) || ShareRequestStore.IsParty(dispute.Provider, caller)
            ? new(RequestOutcome.Ok, Flag(dispute, _requests.Today))
            : RequestResult<Dispute>.Refused(RequestOutcome.Forbidden, "only the raising and the providing department see a dispute");
    }

    /// <summary>The caller's disputes on one side, newest first.</summary>
    public IReadOnlyList<Dispute> List(CallerIdentity caller, PartyRole role, DisputeStatus? status = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var today = _requests.Today;
        var docs = role == PartyRole.User ? _disputes.Where(d => d.User, caller.CreditCode!) : _disputes.Where(d => d.Provider, caller.CreditCode!);
        return docs.Select(Read)
            .Where(d => (role == PartyRole.User ? d.User : d.Provider).DivisionCode == caller.DivisionCode)
            .Where(d => status is null || d.Status == status)
            .OrderByDescending(d => d.RaisedAt).Select(d => Flag(d, today)).ToList();
    }

    /// <summary>Open disputes, oldest due first; only the overdue ones on request (the operator's list).</summary>
    public IReadOnlyList<Dispute> Open(bool overdueOnly)
    {
        var today = _requests.Today;
        return _disputes.Where(d => d.Status, nameof(DisputeStatus.Open)).Select(Read)
            .Where(d => !overdueOnly || d.IsOverdue(today)).OrderBy(d => d.Due).Select(d => Flag(d, today)).ToList();
    }

    /// <summary>
    /// An inconsistency case stands on a comparison the caller made itself: the comparison's record in the
    /// exchange log (this process's chain and those of other replicas) must be an answered comparison of the
    /// same resource by the same department, and every item named must be one it compared. Without this a
    /// department could put the provider on a deadline about data it never looked at. The keys cannot be
    /// checked (the log holds no keys, by design); they are capped and checked for form like a dispute's.
    /// </summary>
    private RequestResult<Dispute>? Comparison(DisputeInput input, CatalogEntry? entry, IReadOnlyList<string> items, IReadOnlyList<string> rowKeys, CallerIdentity caller, List<CatalogValidationError> errors)
    {
        if (input.Items is not { Count: > 0 })
        {
            errors.Add(new("items", "required", "an inconsistency case names the items the comparison found different"));
        }

        if (rowKeys.Count == 0)
        {
            errors.Add(new("rowKeys", "required", "an inconsistency case names the keys of the rows the comparison found different"));
        }

        var id = input.ComparisonId;
        if (string.IsNullOrWhiteSpace(id) || id.Length > RequestChecks.MaxShort)
        {
            errors.Add(new("comparisonId", "required", "an inconsistency case names its comparison: the exchangeId of the comparison's answer"));
            return null;
        }

        if (entry is null)
        {
            return null;
        }

        var record = FindComparison(id);
        if (record is null)
        {
            return RequestResult<Dispute>.Refused(RequestOutcome.NotFound, $"no answered comparison {id} in the exchange log");
        }

        if (!string.Equals(record.EffectiveUser, caller.Uri, StringComparison.Ordinal))
        {
            return RequestResult<Dispute>.Refused(RequestOutcome.Forbidden, $"comparison {id} was made by another department; a department opens a case only from its own comparison");
        }

        if (!string.Equals(record.ResourceCode, entry.ResourceCode, StringComparison.Ordinal))
        {
            errors.Add(new("comparisonId", "comparison.otherResource", $"comparison {id} was of {record.ResourceCode}, not {entry.ResourceCode}"));
            return null;
        }

        // The case is about the data the comparison saw: the version it compared with, recorded in its exchange record.
        if (record.Diff is { ValueKind: JsonValueKind.Object } diff && diff.TryGetProperty("version", out var compared) && compared.TryGetInt32(out var comparedVersion)
            && input.DataVersion is not null && input.DataVersion != comparedVersion.ToString(CultureInfo.InvariantCulture))
        {
            errors.Add(new("dataVersion", "comparison.otherVersion", $"comparison {id} compared version {comparedVersion}, not {input.DataVersion}"));
        }

        foreach (var item in items.Where(i => !record.Items.Contains(i, StringComparer.Ordinal)))
        {
            errors.Add(new("items", "item.notCompared", $"item {item} was not compared by {id} (it compared {string.Join(", ", record.Items)})"));
        }

        return null;
    }

    /// <summary>The answered comparison with this exchange id; a scan of the exchange log, cheap per line (bytes first), and cases are rare.</summary>
    private LogRecord? FindComparison(string exchangeId)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(exchangeId));
        foreach (var entry in _exchanges.ReadAll(LogKind.Exchange))
        {
            if (entry.Type == LogEntryType.Record && entry.RecordJson.Span.IndexOf(needle) >= 0
                && entry.Record is { Kind: ExchangeKind.Compare, Status: 200 } record && record.ExchangeId == exchangeId)
            {
                return record;
            }
        }

        return null;
    }

    /// <summary>A data version is the number a push published (1, 2, …), as a string on the wire.</summary>
    private static int? Version(List<CatalogValidationError> errors, string path, string? version)
    {
        if (string.IsNullOrWhiteSpace(version))
        {
            errors.Add(new(path, "required", "a data version is required"));
            return null;
        }

        if (version.Length > 9 || !int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
        {
            errors.Add(new(path, "version.format", "a data version is the number of a pushed version (1, 2, …), as the pull's version header or the push's answer names it"));
            return null;
        }

        return number;
    }

    private static Dispute Flag(Dispute dispute, DateOnly today) => dispute with { Overdue = dispute.IsOverdue(today) };

    private Dispute? Find(string id) => _disputes.Find(id) is { } doc ? Read(doc) : null;

    /// <summary>Stores a dispute as it is after a change; call inside a state write (also the change-log replay).</summary>
    internal void Write(Dispute dispute) => _disputes.Put(new DisputeDocument
    {
        Id = dispute.Id,
        User = dispute.User.CreditCode,
        Provider = dispute.Provider.CreditCode,
        Status = dispute.Status.ToString(),
        Json = JsonSerializer.Serialize(dispute with { Overdue = false }, CatalogJson.Options),
    });

    private static Dispute Read(DisputeDocument doc) =>
        JsonSerializer.Deserialize<Dispute>(doc.Json, CatalogJson.Options) ?? throw new InvalidDataException($"dispute {doc.Id} is unreadable");

    internal sealed class DisputeDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string User { get; set; } = "";

        public string Provider { get; set; } = "";

        public string Status { get; set; } = "";

        public string Json { get; set; } = "";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5020, EventName = "DisputeRaised", Level = LogLevel.Information, Message = "Dispute {DisputeId} raised by {Caller} on {ResourceCode}")]
        public static partial void Raised(ILogger logger, string disputeId, string caller, string resourceCode);

        [LoggerMessage(EventId = 5021, EventName = "DisputeAnswered", Level = LogLevel.Information, Message = "Dispute {DisputeId} answered {Outcome} by {Caller}")]
        public static partial void Answered(ILogger logger, string disputeId, string caller, DisputeStatus outcome);
    }
}
