using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using LiteDB;
using Microsoft.Extensions.Logging;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Evaluation;

/// <summary>How a status change ended.</summary>
public enum ViolationChangeOutcome
{
    Ok,
    NotFound,

    /// <summary>The violation's status does not take the asked one (e.g. anything after rectified).</summary>
    Refused,
}

/// <summary>A filter of the violation list; every part optional.</summary>
public sealed record ViolationQuery(ViolationStatus? Status = null, ViolationKind? Kind = null, string? Department = null, int? Year = null);

/// <summary>
/// Recorded violations in the node's state (<c>evaluation_violations</c>, id derived from the
/// occurrence key). Every change — notified by a scan, rectified, escalated — is one state change
/// (<see cref="IStateStore.Write{T}(Func{T})"/>) with its <c>violation-change</c> record in the change
/// log, carrying the violation as stored (<see cref="ViolationReplayer"/> redoes it after a crash).
/// Recording is insert-if-absent under the state's gate, so scans are idempotent: the same occurrence
/// is never recorded twice, and a recorded one keeps its status and history.
/// </summary>
public sealed partial class ViolationStore
{
    /// <summary>The change-log entity prefix of violations: <c>violation/&lt;id&gt;</c>.</summary>
    public const string EntityPrefix = "violation/";

    private readonly IStateStore _state;
    private readonly IStateDocuments<ViolationDocument> _violations;
    private readonly ChangeLogJournal _journal;
    private readonly WorkingDayCalendar _calendar;
    private readonly EvaluationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ViolationStore(NodeDataFolder data, ChangeLogJournal journal, WorkingDayCalendar calendar, EvaluationOptions options, TimeProvider time, ILogger<ViolationStore> logger)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _violations = data.Collection<ViolationDocument>("evaluation_violations", d => d.Department, d => d.Status);
        _journal = journal;
        _calendar = calendar;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>The id of the violation with occurrence key <paramref name="key"/>.</summary>
    public static string IdOf(string key) =>
        "vio-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..20];

    /// <summary>
    /// Records the findings not recorded before, each notified to its department with the day to
    /// rectify by (<c>Evaluation:RectificationWorkingDays</c> working days from today); returns those.
    /// </summary>
    public IReadOnlyList<Violation> Record(IReadOnlyList<ViolationFinding> findings, string by = "scan")
    {
        ArgumentNullException.ThrowIfNull(findings);
        var now = _time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        return _state.Write(() =>
        {
            var recorded = new List<Violation>();
            foreach (var finding in findings)
            {
                var id = IdOf(finding.Key);
                if (_violations.Find(id) is not null || recorded.Any(v => v.Id == id))
                {
                    continue;
                }

                var due = _calendar.AddWorkingDays(today, _options.RectificationWorkingDays, out var provisional);
                var change = new ViolationStatusChange(null, ViolationStatus.Notified, by, now, $"notified to {finding.Department.Key}; rectify by {due:yyyy-MM-dd}");
                var violation = new Violation(id, finding.Key, finding.Kind, finding.Rule, finding.Department, finding.ResourceCode, finding.Summary, finding.Evidence, finding.OccurredOn,
                    now, due, provisional, ViolationStatus.Notified, [change]);
                Save(violation, change);
                Log.Recorded(_logger, id, finding.Kind, finding.Department.CreditCode, finding.ResourceCode ?? "-");
                recorded.Add(Flag(violation, today));
            }

            return recorded;
        });
    }

    /// <summary>
    /// The re-check of Art. 42: every open violation (notified or escalated) whose occurrence no longer
    /// stands in <paramref name="findings"/> is rectified; a notified one that still stands after its
    /// rectification day is escalated to <paramref name="escalateTo"/>. Returns the two lists.
    /// </summary>
    public (IReadOnlyList<Violation> Rectified, IReadOnlyList<Violation> Escalated) Recheck(IReadOnlyList<ViolationFinding> findings, string escalateTo, string by = "scan")
    {
        ArgumentNullException.ThrowIfNull(findings);
        var standing = findings.Where(f => f.Standing).Select(f => f.Key).ToHashSet(StringComparer.Ordinal);
        var now = _time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        return _state.Write(() =>
        {
            var rectified = new List<Violation>();
            var escalated = new List<Violation>();
            var open = _violations.Where(d => d.Status, nameof(ViolationStatus.Notified))
                .Concat(_violations.Where(d => d.Status, nameof(ViolationStatus.Escalated)))
                .Select(Read).OrderBy(v => v.DetectedAt).ThenBy(v => v.Id, StringComparer.Ordinal).ToList();
            foreach (var violation in open)
            {
                if (!standing.Contains(violation.Key))
                {
                    var change = new ViolationStatusChange(violation.Status, ViolationStatus.Rectified, by, now, $"re-checked {today:yyyy-MM-dd}: no longer standing");
                    var next = violation with { Status = ViolationStatus.Rectified, History = [.. violation.History, change] };
                    Save(next, change);
                    Log.StatusChanged(_logger, violation.Id, violation.Status, ViolationStatus.Rectified);
                    rectified.Add(Flag(next, today));
                }
                else if (violation.Status == ViolationStatus.Notified && today > violation.RectifyBy)
                {
                    var change = new ViolationStatusChange(violation.Status, ViolationStatus.Escalated, by, now,
                        $"re-checked {today:yyyy-MM-dd}: still standing after {violation.RectifyBy:yyyy-MM-dd}; escalated to {escalateTo}");
                    var next = violation with { Status = ViolationStatus.Escalated, History = [.. violation.History, change], EscalatedTo = escalateTo };
                    Save(next, change);
                    Log.Escalated(_logger, violation.Id, violation.Department.CreditCode, escalateTo);
                    escalated.Add(Flag(next, today));
                }
            }

            return ((IReadOnlyList<Violation>)rectified, (IReadOnlyList<Violation>)escalated);
        });
    }

    public Violation? Get(string id) => _violations.Find(id) is { } doc ? Flag(Read(doc), Today) : null;

    public IReadOnlyList<Violation> List(ViolationQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var today = Today;
        var docs = query.Department is { } department ? _violations.Where(d => d.Department, department) : _violations.All();
        return [.. docs.Select(Read)
            .Where(v => query.Status is null || v.Status == query.Status)
            .Where(v => query.Kind is null || v.Kind == query.Kind)
            .Where(v => query.Year is null || v.OccurredOn.Year == query.Year)
            .OrderBy(v => v.DetectedAt).ThenBy(v => v.Id, StringComparer.Ordinal)
            .Select(v => Flag(v, today))];
    }

    /// <summary>Moves a violation on (the operator); <paramref name="updated"/> is the violation after (or as it stands, when refused).</summary>
    public ViolationChangeOutcome ChangeStatus(string id, ViolationStatus to, string by, string? note, out Violation? updated)
    {
        Violation? result = null;
        var outcome = _state.Write(() =>
        {
            if (_violations.Find(id) is not { } doc)
            {
                return ViolationChangeOutcome.NotFound;
            }

            var current = Read(doc);
            if (!current.CanMoveTo(to))
            {
                result = Flag(current, Today);
                return ViolationChangeOutcome.Refused;
            }

            var now = _time.GetUtcNow();
            var change = new ViolationStatusChange(current.Status, to, by, now, note);
            var next = current with { Status = to, History = [.. current.History, change] };
            Save(next, change);
            Log.StatusChanged(_logger, id, current.Status, to);
            result = Flag(next, Today);
            return ViolationChangeOutcome.Ok;
        });
        updated = result;
        return outcome;
    }

    /// <summary>Puts back a violation as a change-log record carries it (the replay); never logs again.</summary>
    internal void Restore(Violation violation) => _violations.Put(ToDocument(violation));

    private void Save(Violation violation, ViolationStatusChange change)
    {
        _violations.Put(ToDocument(violation));
        var diff = JsonSerializer.SerializeToElement(new LoggedViolationChange(change.From is { } from ? Name(from) : null, Name(change.To), change.Note, violation with { RectificationOverdue = false }), CatalogJson.Options);
        _state.MarkApplied(_journal.Append(ExchangeKind.ViolationChange, EntityPrefix + violation.Id, change.By, change.At, diff, violation.ResourceCode));
    }

    private static string Name(ViolationStatus status) => JsonNamingPolicy.CamelCase.ConvertName(status.ToString());

    private DateOnly Today => WorkingDayCalendar.ToChinaDate(_time.GetUtcNow());

    private static Violation Flag(Violation violation, DateOnly today) =>
        violation with { RectificationOverdue = violation.Status == ViolationStatus.Notified && today > violation.RectifyBy };

    private static ViolationDocument ToDocument(Violation violation) => new()
    {
        Id = violation.Id,
        Department = violation.Department.CreditCode,
        Status = violation.Status.ToString(),
        Json = JsonSerializer.Serialize(violation with { RectificationOverdue = false }, CatalogJson.Options),
    };

    private static Violation Read(ViolationDocument doc) =>
        JsonSerializer.Deserialize<Violation>(doc.Json, CatalogJson.Options) ?? throw new InvalidDataException($"violation {doc.Id} is unreadable");

    /// <summary>The change-log diff of a violation change: the transition and the violation after it.</summary>
    internal sealed record LoggedViolationChange(string? From, string To, string? Note, Violation? After);

    internal sealed class ViolationDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Department { get; set; } = "";

        public string Status { get; set; } = "";

        public string Json { get; set; } = "";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 8010, EventName = "ViolationRecorded", Level = LogLevel.Warning,
            Message = "Violation {ViolationId} recorded: {Kind} by department {Department} on resource {ResourceCode}")]
        public static partial void Recorded(ILogger logger, string violationId, ViolationKind kind, string department, string resourceCode);

        [LoggerMessage(EventId = 8011, EventName = "ViolationStatusChanged", Level = LogLevel.Information,
            Message = "Violation {ViolationId} moved from {From} to {To}")]
        public static partial void StatusChanged(ILogger logger, string violationId, ViolationStatus from, ViolationStatus to);

        [LoggerMessage(EventId = 8012, EventName = "ViolationEscalated", Level = LogLevel.Warning,
            Message = "Violation {ViolationId} of department {Department} not rectified in time: escalated to {EscalatedTo}")]
        public static partial void Escalated(ILogger logger, string violationId, string department, string escalatedTo);
    }
}

/// <summary>Redoes logged violation changes (the evaluation's part of the change-log replay): the violation is stored as the record carries it.</summary>
public sealed class ViolationReplayer(ViolationStore store) : IStateReplayer
{
    public string EntityPrefix => ViolationStore.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Diff.Deserialize<ViolationStore.LoggedViolationChange>(CatalogJson.Options)?.After is not { } violation)
        {
            return false;
        }

        store.Restore(violation);
        return true;
    }
}

/// <summary>
/// Where a violation still standing after its rectification day goes (Art. 42): a child node's to its
/// parent node's office, the province's (no parent) into the provincial leading group's report.
/// The composition root supplies the parent from the hierarchy's links, read at each escalation.
/// </summary>
public sealed class EscalationTarget(Func<string?> parentDivision)
{
    /// <summary>The target at the top of the tree: the provincial leading group's report (annual report, <c>violations.escalatedToLeadingGroup</c>).</summary>
    public const string LeadingGroupReport = "leading-group-report";

    /// <summary>The parent node's identity URI, or <see cref="LeadingGroupReport"/>.</summary>
    public string Current() => parentDivision() is { Length: > 0 } division ? $"govshare:node/{division}" : LeadingGroupReport;
}

/// <summary>The violations escalated to a parent node's office, as the hierarchy delivers them over the link (Art. 42).</summary>
public sealed class EscalatedViolations(ViolationStore violations) : IEscalationSource
{
    // Escalated, and escalated then rectified: the parent's copy follows the rectification (Art. 42).
    public IReadOnlyList<EscalationNotice> EscalatedTo(string target) =>
        [.. violations.List(new ViolationQuery())
            .Where(v => v.EscalatedTo == target && v.Status is ViolationStatus.Escalated or ViolationStatus.Rectified)
            .Select(v => new EscalationNotice(v.Id, JsonNamingPolicy.CamelCase.ConvertName(v.Kind.ToString()), v.Rule, v.Department.DivisionCode, v.Department.CreditCode,
                v.ResourceCode, v.Summary, v.OccurredOn, v.RectifyBy, v.History.LastOrDefault(h => h.To == ViolationStatus.Escalated)?.At ?? v.DetectedAt,
                v.Status == ViolationStatus.Rectified ? v.History.LastOrDefault(h => h.To == ViolationStatus.Rectified)?.At ?? v.DetectedAt : null))];
}
