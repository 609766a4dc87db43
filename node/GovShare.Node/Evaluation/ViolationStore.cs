using System.Security.Cryptography;
using System.Text;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
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
/// Recorded violations in the node's LiteDB (<c>evaluation_violations</c>, id derived from the
/// occurrence key). Recording is insert-if-absent under one lock, so scans are idempotent: the
/// same occurrence is never recorded twice, and a recorded one keeps its status and history.
/// </summary>
public sealed partial class ViolationStore
{
    private readonly IStateDocuments<ViolationDocument> _violations;
    private readonly IStateStore _state;
    private readonly WorkingDayCalendar _calendar;
    private readonly EvaluationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    public ViolationStore(NodeDataFolder data, WorkingDayCalendar calendar, EvaluationOptions options, TimeProvider time, ILogger<ViolationStore> logger)
    {
        ArgumentNullException.ThrowIfNull(data);
        _violations = data.Collection<ViolationDocument>("evaluation_violations", d => d.Department, d => d.Status);
        _state = data.State;
        _calendar = calendar;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>The id of the violation with occurrence key <paramref name="key"/>.</summary>
    public static string IdOf(string key) =>
        "vio-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..20];

    /// <summary>Records the findings not recorded before; returns those.</summary>
    public IReadOnlyList<Violation> Record(IReadOnlyList<ViolationFinding> findings)
    {
        ArgumentNullException.ThrowIfNull(findings);
        var now = _time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        var recorded = new List<Violation>();
        // Check and write inside the state gate: node-wide with PostgreSQL, so two replicas scanning
        // at once cannot both record (the later overwriting the first's status history).
        lock (_gate)
        {
            _state.Write(() =>
            {
                foreach (var finding in findings)
                {
                    var id = IdOf(finding.Key);
                    if (_violations.Find(id) is not null)
                    {
                        continue;
                    }

                    var due = _calendar.AddWorkingDays(today, _options.RectificationWorkingDays, out var provisional);
                    var violation = new Violation(id, finding.Key, finding.Kind, finding.Rule, finding.Department, finding.ResourceCode, finding.Summary, finding.Evidence, finding.OccurredOn,
                        now, due, provisional, ViolationStatus.Notified, [new ViolationStatusChange(null, ViolationStatus.Notified, "scan", now, null)]);
                    _violations.Put(ToDocument(violation));
                    Log.Recorded(_logger, id, finding.Kind, finding.Department.CreditCode, finding.ResourceCode ?? "-");
                    recorded.Add(Flag(violation, today));
                }
            });
        }

        return recorded;
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

    /// <summary>Moves a violation on; <paramref name="updated"/> is the violation after (or as it stands, when refused).</summary>
    public ViolationChangeOutcome ChangeStatus(string id, ViolationStatus to, string by, string? note, out Violation? updated)
    {
        // Read, check and write inside the state gate: across replicas a status change is never lost.
        Violation? after = null;
        ViolationChangeOutcome outcome;
        lock (_gate)
        {
            outcome = _state.Write(() =>
            {
                if (_violations.Find(id) is not { } doc)
                {
                    return ViolationChangeOutcome.NotFound;
                }

                var current = Read(doc);
                if (!current.CanMoveTo(to))
                {
                    after = Flag(current, Today);
                    return ViolationChangeOutcome.Refused;
                }

                var now = _time.GetUtcNow();
                var next = current with { Status = to, History = [.. current.History, new ViolationStatusChange(current.Status, to, by, now, note)] };
                _violations.Put(ToDocument(next));
                Log.StatusChanged(_logger, id, current.Status, to);
                after = Flag(next, Today);
                return ViolationChangeOutcome.Ok;
            });
        }

        updated = after;
        return outcome;
    }

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
    }
}
